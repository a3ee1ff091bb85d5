package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Timestamp is a model timestamp. REST-JSON sends it as epoch seconds with a fractional part,
// which is what boto3 and the Go SDK parse.
type Timestamp struct{ time.Time }

// NewTimestamp returns a pointer, as the generated shapes hold timestamps by pointer.
func NewTimestamp(t time.Time) *Timestamp { return &Timestamp{t} }

func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		sec, frac := math.Modf(f)
		t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("wire: timestamp: %w", err)
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("wire: timestamp %q: %w", s, err)
	}
	t.Time = p
	return nil
}
