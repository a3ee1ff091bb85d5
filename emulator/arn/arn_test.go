package arn

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     ARN
		wantErr  bool
	}{
		{"thing", "arn:aws:iot:eu-west-1:123456789012:thing/door", ARN{"aws", "iot", "eu-west-1", "123456789012", "thing", "door"}, false},
		{"topic with slashes", "arn:aws:iot:eu-west-1:1:topic/home/hall/temp", ARN{"aws", "iot", "eu-west-1", "1", "topic", "home/hall/temp"}, false},
		{"not an arn", "thing/door", ARN{}, true},
		{"no type", "arn:aws:iot:r:a:door", ARN{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if err == nil && got.String() != tt.in {
				t.Fatalf("round trip: got %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestIoT(t *testing.T) {
	if got, want := IoT("eu-west-1", "123456789012", "cert", "ab"), "arn:aws:iot:eu-west-1:123456789012:cert/ab"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
