package sql

import (
	"errors"
	"fmt"
)

// ErrParse matches every *ParseError through errors.Is.
var ErrParse = errors.New("sql: invalid AWS IoT SQL")

// ParseError reports SQL that CreateTopicRule and ReplaceTopicRule would reject with
// SqlParseException (HTTP 400), or a substitution template that cannot be parsed.
type ParseError struct {
	// Message is the text for the SqlParseException body. AWS's exact wording is not documented;
	// ours names the position and what was expected, so that a learner can fix the statement.
	Message string
	// Offset is the 0-based byte offset of the offending token in the SQL text (or template).
	Offset int
	// Line and Column are the 1-based position of Offset; Column counts characters.
	Line, Column int
}

func (e *ParseError) Error() string { return "sql: " + e.Message }

// Is reports whether target is ErrParse.
func (e *ParseError) Is(target error) bool { return target == ErrParse }

func newParseError(src string, offset int, format string, args ...any) *ParseError {
	if offset > len(src) {
		offset = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:offset] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &ParseError{
		Message: fmt.Sprintf("Syntax error at line %d, column %d: %s", line, col, fmt.Sprintf(format, args...)),
		Offset:  offset, Line: line, Column: col,
	}
}

// ErrNotLocal matches, through errors.Is, the *EvalError of a function that needs an AWS service
// (aws_lambda, get_dynamodb, get_secret, get_thing_shadow, get_registry_data,
// machinelearning_predict) or that iotlab does not implement.
var ErrNotLocal = errors.New("sql: function not executed locally")

// ErrBinaryPayload matches the *EvalError of a SELECT clause that reads fields of a payload that is
// not JSON.
var ErrBinaryPayload = errors.New("sql: payload is not JSON")

// EvalError is a failure while evaluating a statement or template. On AWS such a failure makes the
// rule fail for that message: nothing is sent to the actions and the error action, if any, is run.
type EvalError struct {
	// Function is the SQL function that failed, "" when the failure is not a function's.
	Function string
	// Message describes the failure for logs and the error action's errorMessage.
	Message string
	kind    error
}

func (e *EvalError) Error() string { return "sql: " + e.Message }

// Is reports whether target is the sentinel this error belongs to (ErrNotLocal, ErrBinaryPayload).
func (e *EvalError) Is(target error) bool { return e.kind != nil && target == e.kind }
