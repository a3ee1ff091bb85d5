package awsapi

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	"github.com/iotlab/iotlab/emulator/registry"
)

// Checklist 93: GetV2LoggingOptions before any SetV2LoggingOptions is a NotConfiguredException (404);
// the levels need the options first too.
func TestV2LoggingNotConfigured(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	var nc *types.NotConfiguredException
	if _, err := c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{}); !errors.As(err, &nc) {
		t.Errorf("GetV2LoggingOptions: %v, want NotConfiguredException", err)
	}
	_, err := c.SetV2LoggingLevel(ctx, &iot.SetV2LoggingLevelInput{
		LogLevel: types.LogLevelInfo, LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("c1")}})
	if !errors.As(err, &nc) {
		t.Errorf("SetV2LoggingLevel: %v, want NotConfiguredException", err)
	}
	if _, err := c.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{}); !errors.As(err, &nc) {
		t.Errorf("ListV2LoggingLevels: %v, want NotConfiguredException", err)
	}
}

// Checklist 92 (control plane): options and per-target levels round-trip and tell the broker.
func TestV2LoggingRoundTrip(t *testing.T) {
	e := newTestEnv(t)
	var events []registry.Event
	e.Reg.Watch(func(ev registry.Event) {
		if ev.Kind == "logging" {
			events = append(events, ev)
		}
	})
	c := e.iotClient()
	_, err := c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{
		DefaultLogLevel: types.LogLevelError,
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/IoTLogging"),
		EventConfigurations: []types.LogEventConfiguration{
			{EventType: aws.String("Publish-In"), LogLevel: types.LogLevelDebug},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got.DefaultLogLevel != types.LogLevelError || aws.ToString(got.RoleArn) != "arn:aws:iam::123456789012:role/IoTLogging" ||
		got.DisableAllLogs || len(got.EventConfigurations) != 1 || got.EventConfigurations[0].LogLevel != types.LogLevelDebug {
		t.Errorf("GetV2LoggingOptions = %+v", got)
	}

	for _, tg := range []struct {
		typ  types.LogTargetType
		name string
		lvl  types.LogLevel
	}{
		{types.LogTargetTypeClientId, "sensor-1", types.LogLevelInfo},
		{types.LogTargetTypeSourceIp, "10.0.0.1", types.LogLevelDebug},
		{types.LogTargetTypePrincipalId, "abc123", types.LogLevelWarn},
		{types.LogTargetTypeClientId, "sensor-1", types.LogLevelDebug}, // replaces
	} {
		if _, err := c.SetV2LoggingLevel(ctx, &iot.SetV2LoggingLevelInput{
			LogLevel: tg.lvl, LogTarget: &types.LogTarget{TargetType: tg.typ, TargetName: aws.String(tg.name)}}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var flat []string
	for _, l := range list.LogTargetConfigurations {
		flat = append(flat, string(l.LogTarget.TargetType)+"/"+aws.ToString(l.LogTarget.TargetName)+"="+string(l.LogLevel))
	}
	want := "[CLIENT_ID/sensor-1=DEBUG DEFAULT/=ERROR PRINCIPAL_ID/abc123=WARN SOURCE_IP/10.0.0.1=DEBUG]"
	if got := joinLogTargets(flat); got != want {
		t.Errorf("ListV2LoggingLevels = %s, want %s", got, want)
	}
	only, err := c.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{TargetType: types.LogTargetTypeSourceIp})
	if err != nil || len(only.LogTargetConfigurations) != 1 {
		t.Errorf("filtered list: %+v %v", only, err)
	}
	page1, err := c.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{MaxResults: aws.Int32(2)})
	if err != nil || len(page1.LogTargetConfigurations) != 2 || page1.NextToken == nil {
		t.Fatalf("page 1: %+v %v", page1, err)
	}
	page2, err := c.ListV2LoggingLevels(ctx, &iot.ListV2LoggingLevelsInput{MaxResults: aws.Int32(2), NextToken: page1.NextToken})
	if err != nil || len(page2.LogTargetConfigurations) != 2 || page2.NextToken != nil {
		t.Fatalf("page 2: %+v %v", page2, err)
	}

	if _, err := c.DeleteV2LoggingLevel(ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("sensor-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteV2LoggingLevel(ctx, &iot.DeleteV2LoggingLevelInput{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("sensor-1")}); err != nil {
		t.Errorf("deleting a missing target: %v, want success", err)
	}
	if lv := e.Reg.V2LoggingLevels(loggingScope()); len(lv) != 2 {
		t.Errorf("V2LoggingLevels = %+v, want 2 targets", lv)
	}
	if len(events) != 6 { // options, 4 sets, 1 effective delete
		t.Errorf("%d logging events, want 6", len(events))
	}
}

func TestV2LoggingValidation(t *testing.T) {
	e := newTestEnv(t)
	c := e.iotClient()
	if _, err := c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{DefaultLogLevel: "LOUD"}); !isInvalidLogging(err) {
		t.Errorf("bad level: %v, want InvalidRequestException", err)
	}
	if _, err := c.SetV2LoggingOptions(ctx, &iot.SetV2LoggingOptionsInput{DefaultLogLevel: types.LogLevelInfo}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   *iot.SetV2LoggingLevelInput
	}{
		{"DEFAULT target", &iot.SetV2LoggingLevelInput{LogLevel: types.LogLevelInfo, LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeDefault}}},
		{"unknown type", &iot.SetV2LoggingLevelInput{LogLevel: types.LogLevelInfo, LogTarget: &types.LogTarget{TargetType: "THING", TargetName: aws.String("x")}}},
		{"no name", &iot.SetV2LoggingLevelInput{LogLevel: types.LogLevelInfo, LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeClientId}}},
		{"bad level", &iot.SetV2LoggingLevelInput{LogLevel: "LOUD", LogTarget: &types.LogTarget{TargetType: types.LogTargetTypeClientId, TargetName: aws.String("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.SetV2LoggingLevel(ctx, tt.in); !isInvalidLogging(err) {
				t.Errorf("got %v, want InvalidRequestException", err)
			}
		})
	}
}

func isInvalidLogging(err error) bool {
	var ire *types.InvalidRequestException
	return errors.As(err, &ire)
}

func joinLogTargets(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out + "]"
}

func loggingScope() registry.Scope {
	return registry.Scope{Account: "123456789012", Region: "eu-west-1"}
}
