package policy

import "errors"

// ErrMalformed matches every *MalformedError through errors.Is.
var ErrMalformed = errors.New("policy: malformed policy document")

// MalformedError reports a policy document that CreatePolicy or CreatePolicyVersion would reject with
// MalformedPolicyException (HTTP 400).
type MalformedError struct {
	// Message is the text for the MalformedPolicyException body. It starts like AWS's
	// ("Policy document is Malformed: …"); the detail after the colon is ours where AWS's exact
	// wording is not known, and names what is wrong so that a learner can fix it.
	Message string
	// Statement is the 1-based position of the offending statement, 0 when the problem is in the
	// document as a whole.
	Statement int
}

func (e *MalformedError) Error() string { return "policy: " + e.Message }

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// malformedPrefix is what AWS IoT puts before every MalformedPolicyException detail, observed e.g. as
// "Policy document is Malformed: Invalid policy syntax." (github.com/aws/aws-cdk/issues/32414) and
// "Policy document is Malformed: The resource … is not in valid ARN format"
// (github.com/awsdocs/aws-iot-docs/pull/46).
const malformedPrefix = "Policy document is Malformed: "

func malformed(statement int, detail string) *MalformedError {
	return &MalformedError{Message: malformedPrefix + detail, Statement: statement}
}
