package shadow

import (
	"encoding/json"
	"errors"

	"github.com/iotlab/iotlab/emulator/internal/jsonscan"
)

// maxDecodeDepth bounds the nesting decodeJSON accepts, as encoding/json bounds its own.
const maxDecodeDepth = 10000

var (
	errSyntax   = errors.New("shadow: invalid JSON")
	errTooDeep  = errors.New("shadow: JSON nested too deeply")
	errTrailing = errors.New("shadow: data after the JSON value")
)

// decodeJSON parses exactly one JSON value (RFC 8259, what encoding/json accepts) into the package's
// value model. A key repeated in an object keeps its first position and its last value, as Jackson
// (which AWS's Java services use) does. Invalid UTF-8 inside strings becomes U+FFFD, as in
// encoding/json; Update refuses such payloads (415) before they get here.
func decodeJSON(b []byte) (any, error) {
	d := decoder{jsonscan.New(b, maxDecodeDepth)}
	d.Space()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if !d.End() {
		return nil, errTrailing
	}
	return v, nil
}

// decoder builds the package's values from the tokens of a jsonscan.Scanner; encoding/json's
// Decoder.Token would keep member order too, but costs an allocation per token.
type decoder struct {
	jsonscan.Scanner[[]byte]
}

func (d *decoder) value() (any, error) {
	switch c := d.Peek(); {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.string()
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || '0' <= c && c <= '9':
		// Numbers keep their text: json.Number, so that 1.50 stays 1.50.
		text, _, ok := d.Number()
		if !ok {
			return nil, errSyntax
		}
		return json.Number(text), nil
	}
	return nil, errSyntax
}

func (d *decoder) literal(word string, v any) (any, error) {
	if !d.Literal(word) {
		return nil, errSyntax
	}
	return v, nil
}

func (d *decoder) string() (any, error) {
	s, ok := d.String()
	if !ok {
		return nil, errSyntax
	}
	return s, nil
}

func (d *decoder) object() (any, error) {
	if !d.Enter() {
		return nil, errTooDeep
	}
	o := newObject()
	if d.Open('}') {
		d.Leave()
		return o, nil
	}
	for {
		key, ok := d.Key()
		if !ok {
			return nil, errSyntax
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		o.set(key, v)
		more, ok := d.Next('}')
		if !ok {
			return nil, errSyntax
		}
		if !more {
			d.Leave()
			return o, nil
		}
	}
}

func (d *decoder) array() (any, error) {
	if !d.Enter() {
		return nil, errTooDeep
	}
	arr := []any{}
	if d.Open(']') {
		d.Leave()
		return arr, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		more, ok := d.Next(']')
		if !ok {
			return nil, errSyntax
		}
		if !more {
			d.Leave()
			return arr, nil
		}
	}
}
