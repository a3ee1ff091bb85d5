package sql

import (
	"encoding/json"
	"testing"
)

var benchPayload = []byte(`{"device":"d1","temp":31.5,"humidity":40,"battery":97,"fw":"1.2.3","loc":{"lat":47.6,"lon":-122.3}}`)

// BenchmarkEvaluate selects three fields with a WHERE, the shape of most learner rules. The
// encoding/json sub-benchmark does the same work with the standard library (unmarshal into a map,
// test, marshal three keys) as a baseline measured in the same run.
func BenchmarkEvaluate(b *testing.B) {
	b.Run("sql", func(b *testing.B) {
		st := mustParse(b, "SELECT temp, humidity, device FROM 'sensors/+/data' WHERE temp > 30")
		env := testEnv()
		if out, ok, err := st.Evaluate(benchPayload, env); !ok || err != nil || string(out) != `{"temp":31.5,"humidity":40,"device":"d1"}` {
			b.Fatalf("setup: %s %v %v", out, ok, err)
		}
		b.SetBytes(int64(len(benchPayload)))
		b.ReportAllocs()
		for b.Loop() {
			st.Evaluate(benchPayload, env)
		}
	})
	b.Run("baseline=encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(benchPayload)))
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if json.Unmarshal(benchPayload, &m) != nil {
				b.Fatal("bad payload")
			}
			if t, ok := m["temp"].(float64); ok && t > 30 {
				_, _ = json.Marshal(map[string]any{"temp": m["temp"], "humidity": m["humidity"], "device": m["device"]})
			}
		}
	})
}

func BenchmarkEvaluateSelectStar(b *testing.B) {
	st := mustParse(b, "SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30")
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		st.Evaluate(benchPayload, env)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Parse("SELECT *, topic(2) AS dev, clientid() AS cid, timestamp() AS ts FROM 'sensors/+/data' WHERE temp > 30 AND startswith(device, 'd')")
	}
}

func BenchmarkTemplateExpand(b *testing.B) {
	tmpl, err := ParseTemplate("alerts/${topic(2)}/${device}")
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		tmpl.Expand(benchPayload, env)
	}
}
