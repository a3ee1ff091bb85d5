// Package awserr is iotlab's one error catalogue: typed errors that carry an AWS error code, a message,
// and (through the generated model table) the HTTP status each AWS service gives that code.
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Codes used across iotlab. The HTTP status comes from the service model (catalogue_gen.go).
const (
	CertificateConflict       = "CertificateConflictException"
	CertificateState          = "CertificateStateException"
	CertificateValidation     = "CertificateValidationException"
	Conflict                  = "ConflictException"
	ConflictingResourceUpdate = "ConflictingResourceUpdateException"
	DeleteConflict            = "DeleteConflictException"
	Forbidden                 = "ForbiddenException"
	InternalFailure           = "InternalFailureException"
	InvalidRequest            = "InvalidRequestException"
	InvalidStateTransition    = "InvalidStateTransitionException"
	LimitExceeded             = "LimitExceededException"
	MalformedPolicy           = "MalformedPolicyException"
	MethodNotAllowed          = "MethodNotAllowedException"
	NotConfigured             = "NotConfiguredException"
	RegistrationCodeInvalid   = "RegistrationCodeValidationException"
	RequestEntityTooLarge     = "RequestEntityTooLargeException"
	ResourceAlreadyExists     = "ResourceAlreadyExistsException"
	ResourceNotFound          = "ResourceNotFoundException"
	ResourceRegistration      = "ResourceRegistrationFailureException"
	ServiceUnavailable        = "ServiceUnavailableException"
	SqlParse                  = "SqlParseException"
	Throttling                = "ThrottlingException"
	Unauthorized              = "UnauthorizedException"
	UnsupportedDocEncoding    = "UnsupportedDocumentEncodingException"
	VersionConflict           = "VersionConflictException"
	VersionsLimitExceeded     = "VersionsLimitExceededException"

	// Not in the IoT models: the errors AWS's front end gives before an operation runs.
	UnknownOperation      = "UnknownOperationException"
	SignatureDoesNotMatch = "SignatureDoesNotMatchException"
	InvalidSignature      = "InvalidSignatureException"
	MissingAuthToken      = "MissingAuthenticationTokenException"
	IncompleteSignature   = "IncompleteSignatureException"
	UnrecognizedClient    = "UnrecognizedClientException"
	Serialization         = "SerializationException"
)

// frontEndStatus gives the statuses of codes that no model lists.
var frontEndStatus = map[string]int{
	UnknownOperation:      http.StatusNotFound,
	SignatureDoesNotMatch: http.StatusForbidden,
	InvalidSignature:      http.StatusForbidden,
	MissingAuthToken:      http.StatusForbidden,
	IncompleteSignature:   http.StatusForbidden,
	UnrecognizedClient:    http.StatusForbidden,
	Serialization:         http.StatusBadRequest,
	MethodNotAllowed:      http.StatusMethodNotAllowed,
	RequestEntityTooLarge: http.StatusRequestEntityTooLarge,
}

// Error is an AWS API error.
type Error struct {
	Code    string
	Message string
	// Fields are extra members of the error body that the model's error shape declares, e.g.
	// resourceId and resourceArn of ResourceAlreadyExistsException. Nil for most errors.
	Fields map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is matches errors by code, so errors.Is(err, &awserr.Error{Code: awserr.ResourceNotFound}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// New makes an error with a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound is the common ResourceNotFoundException.
func NotFound(format string, args ...any) *Error { return New(ResourceNotFound, format, args...) }

// InvalidReq is the common InvalidRequestException.
func InvalidReq(format string, args ...any) *Error { return New(InvalidRequest, format, args...) }

// HasCode reports whether err is an AWS error with that code.
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// From turns any error into an AWS error; anything unexpected is an InternalFailureException, so an
// internal detail never reaches a client as a success or a malformed answer.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: InternalFailure, Message: "An internal error occurred"}
}

// Status is the HTTP status for e as the given service (SigV4 signing name, "iot" or "iotdata") answers it.
func Status(service string, e *Error) int {
	if st, ok := modelStatus[service][e.Code]; ok {
		return st
	}
	if st, ok := modelStatus["iot"][e.Code]; ok {
		return st
	}
	if st, ok := frontEndStatus[e.Code]; ok {
		return st
	}
	return http.StatusInternalServerError
}
