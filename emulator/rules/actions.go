package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/iotlab/iotlab/emulator/rules/sql"
)

// httpTimeout bounds an http action's request. AWS: GR:iot-core ("HTTP action … request timeout 3000 ms")
const httpTimeout = 3 * time.Second

// defaultFunctionTimeout is Lambda's default function timeout.
const defaultFunctionTimeout = 3 * time.Second

// ruleSet is the compiled enabled rules, swapped whole by Reload.
type ruleSet struct {
	list   []*compiledRule // sorted by name, as RuleSource lists them
	byName map[string]*compiledRule
}

type compiledRule struct {
	name        string
	stmt        *sql.Statement
	actions     []action
	errorAction action // nil when none
	slow        bool   // has a lambda or http action (error action included): runs on its own goroutine
}

// action is one compiled rule action.
type action interface {
	// run performs the action with payload (the SELECT result, or the error document for an error
	// action). resource names what it acted on: the failedResource of the error document.
	run(e *Engine, x *execution, payload []byte) (resource string, err error)
	// shape is the model's name of the action type ("RepublishAction"), the error document's failedAction.
	shape() string
	// slow reports whether the action waits on something outside the engine (a function, a web server).
	slow() bool
	// executed reports whether iotlab runs the action type at all.
	executed() bool
}

// compile parses a rule's SQL and its actions' templates.
func compile(r Rule) (*compiledRule, error) {
	st, err := sql.Parse(r.SQL)
	if err != nil {
		return nil, err
	}
	cr := &compiledRule{name: r.Name, stmt: st}
	for i, a := range r.Actions {
		ca, err := compileAction(r.Name, a)
		if err != nil {
			return nil, fmt.Errorf("action %d (%s): %w", i+1, a.Type, err)
		}
		cr.actions = append(cr.actions, ca)
		cr.slow = cr.slow || ca.slow()
	}
	if r.ErrorAction != nil {
		ca, err := compileAction(r.Name, *r.ErrorAction)
		if err != nil {
			return nil, fmt.Errorf("error action (%s): %w", r.ErrorAction.Type, err)
		}
		cr.errorAction = ca
		cr.slow = cr.slow || ca.slow()
	}
	return cr, nil
}

func compileAction(rule string, a Action) (action, error) {
	switch a.Type {
	case "republish":
		return compileRepublish(a.Params)
	case "lambda":
		var p struct {
			FunctionArn string `json:"functionArn"`
		}
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return nil, err
		}
		t, err := template("functionArn", p.FunctionArn)
		if err != nil {
			return nil, err
		}
		return &lambdaAction{functionArn: t}, nil
	case "http":
		var p struct {
			URL     string `json:"url"`
			Headers []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"headers"`
		}
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return nil, err
		}
		u, err := template("url", p.URL)
		if err != nil {
			return nil, err
		}
		h := &httpAction{url: u}
		for _, hd := range p.Headers {
			v, err := template("headers.value", hd.Value)
			if err != nil {
				return nil, err
			}
			h.headers = append(h.headers, httpHeader{key: hd.Key, value: v})
		}
		return h, nil
	}
	return &notLocal{rule: rule, typ: a.Type}, nil
}

func template(field, text string) (*sql.Template, error) {
	if text == "" {
		return nil, fmt.Errorf("%s is missing", field)
	}
	t, err := sql.ParseTemplate(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return t, nil
}

func optionalTemplate(field, text string) (*sql.Template, error) {
	if text == "" {
		return nil, nil
	}
	return template(field, text)
}

// ---- republish ----

// republishAction publishes the SELECT result. AWS: republish-rule-action
type republishAction struct {
	topic   *sql.Template
	qos     byte
	headers *headerTemplates // nil without headers
}

type headerTemplates struct {
	contentType, correlationData, messageExpiry, payloadFormat, responseTopic *sql.Template
	userProperties                                                            []userPropertyTemplate
}

type userPropertyTemplate struct{ key, value *sql.Template }

func compileRepublish(params json.RawMessage) (action, error) {
	var p struct {
		Topic   string `json:"topic"`
		QoS     *int   `json:"qos"`
		Headers *struct {
			ContentType            string `json:"contentType"`
			CorrelationData        string `json:"correlationData"`
			MessageExpiry          string `json:"messageExpiry"`
			PayloadFormatIndicator string `json:"payloadFormatIndicator"`
			ResponseTopic          string `json:"responseTopic"`
			UserProperties         []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"userProperties"`
		} `json:"headers"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, err
	}
	t, err := template("topic", p.Topic)
	if err != nil {
		return nil, err
	}
	a := &republishAction{topic: t}
	if p.QoS != nil {
		if *p.QoS < 0 || *p.QoS > 1 {
			return nil, fmt.Errorf("qos %d: use 0 or 1", *p.QoS)
		}
		a.qos = byte(*p.QoS)
	}
	if h := p.Headers; h != nil {
		ht := &headerTemplates{}
		for _, f := range []struct {
			dst  **sql.Template
			name string
			text string
		}{
			{&ht.contentType, "headers.contentType", h.ContentType},
			{&ht.correlationData, "headers.correlationData", h.CorrelationData},
			{&ht.messageExpiry, "headers.messageExpiry", h.MessageExpiry},
			{&ht.payloadFormat, "headers.payloadFormatIndicator", h.PayloadFormatIndicator},
			{&ht.responseTopic, "headers.responseTopic", h.ResponseTopic},
		} {
			if *f.dst, err = optionalTemplate(f.name, f.text); err != nil {
				return nil, err
			}
		}
		for _, up := range h.UserProperties {
			k, err := template("headers.userProperties.key", up.Key)
			if err != nil {
				return nil, err
			}
			v, err := sql.ParseTemplate(up.Value)
			if err != nil {
				return nil, fmt.Errorf("headers.userProperties.value: %w", err)
			}
			ht.userProperties = append(ht.userProperties, userPropertyTemplate{key: k, value: v})
		}
		a.headers = ht
	}
	return a, nil
}

func (a *republishAction) shape() string  { return "RepublishAction" }
func (a *republishAction) slow() bool     { return false }
func (a *republishAction) executed() bool { return true }

func (a *republishAction) run(e *Engine, x *execution, payload []byte) (string, error) {
	topic, err := x.expand(a.topic)
	if err != nil {
		return a.topic.String(), fmt.Errorf("the topic template failed: %w", err)
	}
	h, err := a.headers.expand(x)
	if err != nil {
		return topic, err
	}
	if err := e.publish(x, topic, payload, a.qos, h); err != nil {
		return topic, fmt.Errorf("republish to %s failed: %w", topic, err)
	}
	return topic, nil
}

// expand evaluates the header templates. AWS: API_MqttHeaders
func (ht *headerTemplates) expand(x *execution) (Headers, error) {
	var h Headers
	if ht == nil {
		return h, nil
	}
	var err error
	if h.ContentType, err = x.expand(ht.contentType); err != nil {
		return h, fmt.Errorf("headers.contentType: %w", err)
	}
	if h.ResponseTopic, err = x.expand(ht.responseTopic); err != nil {
		return h, fmt.Errorf("headers.responseTopic: %w", err)
	}
	cd, err := x.expand(ht.correlationData)
	if err != nil {
		return h, fmt.Errorf("headers.correlationData: %w", err)
	}
	if cd != "" {
		// "The base64-encoded binary data used by the sender of the request message …"
		if h.CorrelationData, err = base64.StdEncoding.DecodeString(cd); err != nil {
			return h, fmt.Errorf("headers.correlationData %q is not base64", cd)
		}
	}
	me, err := x.expand(ht.messageExpiry)
	if err != nil {
		return h, fmt.Errorf("headers.messageExpiry: %w", err)
	}
	if me != "" {
		n, err := strconv.ParseUint(me, 10, 32)
		if err != nil {
			return h, fmt.Errorf("headers.messageExpiry %q is not a number of seconds", me)
		}
		v := uint32(n)
		h.MessageExpiry = &v
	}
	pf, err := x.expand(ht.payloadFormat)
	if err != nil {
		return h, fmt.Errorf("headers.payloadFormatIndicator: %w", err)
	}
	switch pf {
	case "":
	case "UTF8_DATA":
		h.PayloadUTF8 = new(true)
	case "UNSPECIFIED_BYTES":
		h.PayloadUTF8 = new(false)
	default:
		return h, fmt.Errorf("headers.payloadFormatIndicator %q: use UTF8_DATA or UNSPECIFIED_BYTES", pf)
	}
	for _, up := range ht.userProperties {
		k, err := x.expand(up.key)
		if err != nil {
			return h, fmt.Errorf("headers.userProperties: %w", err)
		}
		v, err := x.expand(up.value)
		if err != nil {
			return h, fmt.Errorf("headers.userProperties: %w", err)
		}
		h.UserProperties = append(h.UserProperties, UserProperty{Key: k, Value: v})
	}
	return h, nil
}

// ---- lambda ----

// lambdaAction invokes a local function. AWS: lambda-rule-action
type lambdaAction struct{ functionArn *sql.Template }

func (a *lambdaAction) shape() string  { return "LambdaAction" }
func (a *lambdaAction) slow() bool     { return true }
func (a *lambdaAction) executed() bool { return true }

// functionError is a failure inside a function (as opposed to invoking it), which AWS never reports
// to the rule (Quirks.FunctionErrorsAsAWS).
type functionError struct{ err error }

func (f *functionError) Error() string { return f.err.Error() }
func (f *functionError) Unwrap() error { return f.err }

func (a *lambdaAction) run(e *Engine, x *execution, payload []byte) (string, error) {
	arn, err := x.expand(a.functionArn)
	if err != nil {
		return a.functionArn.String(), fmt.Errorf("the functionArn template failed: %w", err)
	}
	name, f, ok := e.function(arn)
	if !ok {
		// What Lambda's Invoke answers for an unknown function.
		return arn, fmt.Errorf("Function not found: %s (iotlab: no entry for it, by ARN or by name, in the local functions)", arn)
	}
	err = e.invoke(name, f, payload)
	var fe *functionError
	if errors.As(err, &fe) && e.opt.Quirks.FunctionErrorsAsAWS {
		e.log.Warn("rules: the function failed; as on AWS, the rule does not see it", "rule", x.rule.name, "function", arn, "err", err)
		return arn, nil
	}
	return arn, err
}

// function finds the local handler of a function ARN: by the whole ARN, then by "name:qualifier",
// then by name. AWS ARN: arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
func (e *Engine) function(arn string) (name string, f Function, ok bool) {
	name = arn
	if _, rest, found := strings.Cut(arn, ":function:"); found {
		name = rest
	}
	bare, _, _ := strings.Cut(name, ":")
	for _, k := range []string{arn, name, bare} {
		if f, ok = e.opt.Functions[k]; ok {
			return bare, f, true
		}
	}
	return bare, f, false
}

// invoke runs a function with an event. Errors of the function itself are *functionError.
func (e *Engine) invoke(name string, f Function, event []byte) error {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = defaultFunctionTimeout
	}
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	if f.URL != "" {
		return e.invokeURL(ctx, name, f.URL, event, timeout)
	}
	return e.invokeCommand(ctx, name, f.Command, event, timeout)
}

func (e *Engine) invokeURL(ctx context.Context, name, u string, event []byte, timeout time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(event))
	if err != nil {
		return fmt.Errorf("function %s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.opt.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return &functionError{fmt.Errorf("function %s timed out after %s", name, timeout)}
		}
		return fmt.Errorf("function %s could not be invoked at %s: %w", name, u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e.log.Debug("rules: function answered", "function", name, "status", resp.StatusCode, "body", string(body))
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		return &functionError{fmt.Errorf("function %s failed (%s): %s", name, fe, clip(body))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &functionError{fmt.Errorf("function %s answered HTTP %d: %s", name, resp.StatusCode, clip(body))}
	}
	return nil
}

func (e *Engine) invokeCommand(ctx context.Context, name string, command []string, event []byte, timeout time.Duration) error {
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdin = bytes.NewReader(event)
	var stdout, stderr cappedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(append(os.Environ(), e.opt.FunctionEnv...), "AWS_LAMBDA_FUNCTION_NAME="+name, "AWS_REGION="+e.opt.Region)
	cmd.WaitDelay = time.Second // a child that keeps the pipes open must not hold the engine
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("function %s could not be started: %w", name, err)
	}
	err := cmd.Wait()
	e.log.Debug("rules: function ran", "function", name, "stdout", stdout.String(), "stderr", stderr.String(), "err", err)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return &functionError{fmt.Errorf("function %s timed out after %s", name, timeout)}
	case err != nil:
		msg := fmt.Sprintf("function %s failed: %v", name, err)
		if s := strings.TrimSpace(stderr.String()); s != "" {
			msg += ": " + clip([]byte(s))
		}
		return &functionError{errors.New(msg)}
	}
	return nil
}

// cappedBuffer keeps the first 64 KiB written to it and discards the rest.
type cappedBuffer struct{ bytes.Buffer }

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// clip shortens a body or an error output for an error message.
func clip(b []byte) string {
	const max = 512
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// ---- http ----

// httpAction POSTs the SELECT result to a web server. AWS: https-rule-action
type httpAction struct {
	url     *sql.Template
	headers []httpHeader
}

type httpHeader struct {
	key   string
	value *sql.Template
}

func (a *httpAction) shape() string  { return "HttpAction" }
func (a *httpAction) slow() bool     { return true }
func (a *httpAction) executed() bool { return true }

func (a *httpAction) run(e *Engine, x *execution, payload []byte) (string, error) {
	u, err := x.expand(a.url)
	if err != nil {
		return a.url.String(), fmt.Errorf("the url template failed: %w", err)
	}
	if err := e.allowedURL(u); err != nil {
		return u, err
	}
	ctx, cancel := context.WithTimeout(e.ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return u, err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range a.headers {
		v, err := x.expand(h.value)
		if err != nil {
			return u, fmt.Errorf("header %s: the value template failed: %w", h.key, err)
		}
		req.Header.Set(h.key, v)
	}
	resp, err := e.opt.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return u, fmt.Errorf("POST %s timed out after %s", u, httpTimeout)
		}
		return u, fmt.Errorf("POST %s failed: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return u, fmt.Errorf("POST %s answered HTTP %d: %s", u, resp.StatusCode, clip(body))
	}
	return u, nil
}

// allowedURL refuses anything but loopback URLs and the configured prefixes, so that a rule cannot
// make iotlab call across the network.
func (e *Engine) allowedURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL", raw)
	}
	for _, p := range e.opt.HTTPAllow {
		if p != "" && strings.HasPrefix(raw, p) {
			return nil
		}
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("iotlab calls only loopback URLs and the URL prefixes it is configured to allow; %s was not called", raw)
}

// ---- the actions iotlab does not run ----

// notLocal is an action type that needs an AWS service (dynamoDB, kinesis, s3, sns, sqs, …).
type notLocal struct{ rule, typ string }

func (a *notLocal) shape() string  { return a.typ }
func (a *notLocal) slow() bool     { return false }
func (a *notLocal) executed() bool { return false }

func (a *notLocal) run(e *Engine, _ *execution, _ []byte) (string, error) {
	e.notExecuted.Add(1)
	e.note(a.rule+"\x00"+a.typ, "rules: action not executed locally: iotlab runs republish, lambda and http actions only",
		"rule", a.rule, "action", a.typ)
	return "", nil
}
