package shadow

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits the service enforces on documents (AWS: device-shadow-document, diagnosing-shadows,
// device-shadow-error-messages; quotas: iot-core.html#device-shadow-limits).
const (
	// MaxStateBytes bounds the stored desired plus reported sections, written compactly; metadata
	// doesn't count ("Only the data for desired and reported state … counts toward the limit",
	// diagnosing-shadows). The limit applies to the merged document, so a small update can be
	// refused with 413.
	MaxStateBytes = 8192
	// MaxDepth is the deepest level at which desired or reported may hold a non-empty object or
	// array, counting the section itself as level 1 ("JSON contains too many levels of nesting;
	// maximum is 6"). As in AWS's Greengrass shadow manager (JsonUtil.validatePayloadStateDepth),
	// scalars may sit one level below that, i.e. 6 levels of keys inside the section — which also
	// matches the older quota text "maximum number of levels in the desired or reported section … 5"
	// counted in objects.
	MaxDepth = 6
	// MaxClientTokenBytes bounds clientToken; longer gives 400 "Invalid clientToken".
	MaxClientTokenBytes = 64
	// VersionRetention is how long a deleted shadow's version is remembered: "If you create a device
	// shadow document that has the same name as one that was deleted within the past 48 hours, the
	// version number of the new device shadow document will follow that of the deleted one"
	// (device-shadow-data-flow).
	VersionRetention = 48 * time.Hour
)

// Stored is what iotlab keeps for one shadow: its desired and reported state, their metadata and its
// version — or, after a delete, a tombstone that remembers the version for VersionRetention. It
// round-trips through encoding/json (this is the form to persist). Treat it as immutable: Update and
// Delete return new values and never modify their argument. A nil *Stored is a shadow that never
// existed; build Stored values only with Update, Delete or json.Unmarshal.
type Stored struct {
	desired, reported         *object // never empty: an empty section is nil
	desiredMeta, reportedMeta *object // mirror desired and reported
	version                   int64
	deleted                   bool
	deletedAt                 int64 // epoch seconds
}

// Exists reports whether the shadow exists (nil and deleted shadows don't).
func (s *Stored) Exists() bool { return s != nil && !s.deleted }

// Version is the shadow's version, or for a deleted shadow the version it had when deleted.
func (s *Stored) Version() int64 {
	if s == nil {
		return 0
	}
	return s.version
}

// Expired reports whether s is a tombstone older than VersionRetention: it no longer affects
// anything, and the store may drop it.
func (s *Stored) Expired(now time.Time) bool {
	return s != nil && s.deleted && now.Unix()-s.deletedAt > int64(VersionRetention/time.Second)
}

// storedJSON is the persisted form: the AWS document ({"state","metadata","version"}) plus the
// tombstone fields.
type storedJSON struct {
	State     *sectionsJSON `json:"state,omitempty"`
	Metadata  *sectionsJSON `json:"metadata,omitempty"`
	Version   int64         `json:"version"`
	Deleted   bool          `json:"deleted,omitempty"`
	DeletedAt int64         `json:"deletedAt,omitempty"`
}

type sectionsJSON struct {
	Desired  *object `json:"desired,omitempty"`
	Reported *object `json:"reported,omitempty"`
}

// MarshalJSON writes the persisted form.
func (s *Stored) MarshalJSON() ([]byte, error) {
	j := storedJSON{Version: s.version, Deleted: s.deleted, DeletedAt: s.deletedAt}
	if !s.deleted {
		j.State = &sectionsJSON{Desired: s.desired, Reported: s.reported}
		j.Metadata = &sectionsJSON{Desired: s.desiredMeta, Reported: s.reportedMeta}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the persisted form. Metadata that doesn't mirror the state (a record edited by
// hand) is rebuilt with timestamp 0 rather than rejected.
func (s *Stored) UnmarshalJSON(b []byte) error {
	var j storedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Version < 0 {
		return errors.New("shadow: stored version is negative")
	}
	*s = Stored{version: j.Version, deleted: j.Deleted, deletedAt: j.DeletedAt}
	if j.Deleted {
		return nil
	}
	var st, md sectionsJSON
	if j.State != nil {
		st = *j.State
	}
	if j.Metadata != nil {
		md = *j.Metadata
	}
	s.desired, s.desiredMeta = loadSection(st.Desired, md.Desired)
	s.reported, s.reportedMeta = loadSection(st.Reported, md.Reported)
	return nil
}

func loadSection(state, meta *object) (*object, *object) {
	if state.len() == 0 {
		return nil, nil
	}
	if meta == nil || !mirrors(state, meta) {
		meta = metadataOf(state, 0).(*object)
	}
	return state, meta
}

// mirrors reports whether meta has the shape metadataOf gives state.
func mirrors(state, meta any) bool {
	switch v := state.(type) {
	case *object:
		m, ok := meta.(*object)
		if !ok || m.len() != v.len() {
			return false
		}
		for i, k := range v.keys {
			mv, ok := m.get(k)
			if !ok || !mirrors(v.vals[i], mv) {
				return false
			}
		}
		return true
	case []any:
		m, ok := meta.([]any)
		if !ok || len(m) != len(v) {
			return false
		}
		for i := range v {
			if !mirrors(v[i], m[i]) {
				return false
			}
		}
		return true
	default:
		m, ok := meta.(*object)
		if !ok || m.len() != 1 {
			return false
		}
		_, ok = m.get("timestamp")
		return ok
	}
}

// Responses are the messages of an accepted update.
type Responses struct {
	// Accepted is the /update/accepted document and the UpdateThingShadow HTTP body: the request's
	// state as sent (nulls included), the metadata of what it touched, version, timestamp and
	// clientToken.
	Accepted []byte
	// Documents is the /update/documents document: {"previous","current","timestamp","clientToken"},
	// previous being null when the update created the shadow.
	Documents []byte
	// Delta is the /update/delta document, or nil when desired and reported agree after the update.
	// It is published after every accepted update that leaves a difference, whichever section the
	// update touched ("when it accepts a shadow update and the resulting shadow contains different
	// values for desired and reported states", device-shadow-data-flow).
	Delta []byte
}

// updateRequest is a validated update request.
type updateRequest struct {
	token      string
	version    int64
	hasVersion bool
	state      *object // nil when "state": null
	stateNull  bool
}

// Update applies an update request (a /update payload or an UpdateThingShadow body) to the shadow
// current (nil or deleted when it doesn't exist) at time now, and returns the new shadow and the
// messages to publish, or the rejection.
//
// Validation, in this order, each failure a 400 unless noted: valid UTF-8 (else 415); one JSON
// object ("Invalid JSON"); clientToken, if present, a string of at most 64 bytes; version, if present
// and not null, a non-negative integer; "state" present ("Missing required node: state") and an
// object or null; desired and reported objects or null; no other member in state except "delta"
// (ignored, so that a /get document can be sent back); no null element in an array; nesting within
// MaxDepth. Then the version check (409) and, after merging, the size check (413).
//
// Merging (AWS: device-shadow-document, device-shadow-data-flow): only the members sent change; null
// removes a member; objects merge recursively; anything else, arrays included, replaces the old
// value whole. An empty object is treated like null, and an object left empty disappears, so that
// stored documents never hold {} (as AWS's Greengrass shadow manager treats them, JsonUtil.isMissing).
// "desired": null (or {}) removes the section, "state": null clears both; the shadow still exists.
// Every leaf written gets metadata {"timestamp": now}; array elements get one each.
//
// Versions: a new shadow starts at 1, every accepted update adds 1, also when nothing changed. A
// request version must equal the current version, else 409 "Version conflict"; a request with a
// version for a shadow that doesn't exist gets 409 too (observed: SDKs that kept the version across a
// delete got 409, github.com/aws/aws-iot-device-sdk-js/issues/68). A shadow recreated within 48 hours
// of its deletion continues from the deleted version; later it starts over at 1 (AWS writes "will be
// 0" for the version of the new document; the first update still yields 1 here).
func Update(current *Stored, request []byte, now time.Time) (*Stored, Responses, *Error) {
	req, rej := parseUpdate(request, now)
	if rej != nil {
		return nil, Responses{}, rej
	}
	ts := now.Unix()
	live := current.Exists()
	if req.hasVersion && (!live || req.version != current.version) {
		return nil, Responses{}, NewError(409, MsgVersionConflict, req.token, now)
	}

	next := &Stored{version: 1}
	switch {
	case live:
		next = &Stored{
			desired: cloneObject(current.desired), desiredMeta: cloneObject(current.desiredMeta),
			reported: cloneObject(current.reported), reportedMeta: cloneObject(current.reportedMeta),
			version: current.version + 1,
		}
	case current != nil && !current.Expired(now):
		next.version = current.version + 1
	}

	// The accepted document echoes the request's state as sent, minus "delta", with the metadata of
	// every leaf it names.
	var echo, echoMeta any = (*object)(nil), metadataOf(nil, ts)
	if req.stateNull {
		next.desired, next.desiredMeta, next.reported, next.reportedMeta = nil, nil, nil, nil
	} else {
		e, em := newObject(), newObject()
		for i, k := range req.state.keys {
			patch := req.state.vals[i]
			switch k {
			case "desired":
				next.desired, next.desiredMeta = applySection(next.desired, next.desiredMeta, patch, ts)
			case "reported":
				next.reported, next.reportedMeta = applySection(next.reported, next.reportedMeta, patch, ts)
			default:
				continue // "delta"
			}
			e.set(k, patch)
			em.set(k, metadataOf(patch, ts))
		}
		echo, echoMeta = e, em
	}

	if stateSize(next) > MaxStateBytes {
		return nil, Responses{}, NewError(413, MsgPayloadTooLarge, req.token, now)
	}

	var resp Responses
	resp.Accepted = appendJSON(nil, members(
		"state", echo,
		"metadata", echoMeta,
		"version", next.version,
		"timestamp", ts,
		"clientToken", tokenMember(req.token),
	))
	var previous any = (*object)(nil)
	if live {
		previous = current.document(false)
	}
	resp.Documents = appendJSON(nil, members(
		"previous", previous,
		"current", next.document(false),
		"timestamp", ts,
		"clientToken", tokenMember(req.token),
	))
	if delta, deltaMeta := next.delta(); delta != nil {
		resp.Delta = appendJSON(nil, members(
			"version", next.version,
			"timestamp", ts,
			"state", delta,
			"metadata", deltaMeta,
			"clientToken", tokenMember(req.token),
		))
	}
	return next, resp, nil
}

// stateSize is the size that MaxStateBytes bounds.
func stateSize(s *Stored) int {
	n := 0
	if s.desired != nil {
		n += len(appendJSON(nil, s.desired))
	}
	if s.reported != nil {
		n += len(appendJSON(nil, s.reported))
	}
	return n
}

// Get answers a /get request or GetThingShadow for the shadow id: the whole document with the delta
// between desired and reported, metadata, version, timestamp, and the request's clientToken. AWS says
// to publish an empty message; the AWS IoT Device SDK v2 sends {"clientToken": …} and waits for it
// to come back, so a JSON object's clientToken is echoed (and, over 64 bytes, refused with 400) and
// any other payload is ignored. A shadow that doesn't exist gives 404 "No shadow exists with name:
// '<thing>'" ('<thing>~<shadow>' for a named shadow).
func Get(id ID, current *Stored, request []byte, now time.Time) ([]byte, *Error) {
	token, rej := tokenOnly(request, now)
	if rej != nil {
		return nil, rej
	}
	if !current.Exists() {
		return nil, notFound(id, token, now)
	}
	doc := current.document(true)
	doc.set("timestamp", now.Unix())
	if token != "" {
		doc.set("clientToken", token)
	}
	return appendJSON(nil, doc), nil
}

// Delete answers a /delete request or DeleteThingShadow: it returns the tombstone to store and the
// /delete/accepted document {"version": <the deleted version>, "timestamp", "clientToken"?}. The
// payload is otherwise ignored ("The content of the message is ignored", device-shadow-mqtt) — no
// version check: neither the MQTT topic nor the HTTP API takes one. A shadow that doesn't exist
// gives 404. Deleting doesn't reset the version (see Update).
func Delete(id ID, current *Stored, request []byte, now time.Time) (*Stored, []byte, *Error) {
	token, rej := tokenOnly(request, now)
	if rej != nil {
		return nil, nil, rej
	}
	if !current.Exists() {
		return nil, nil, notFound(id, token, now)
	}
	tomb := &Stored{version: current.version, deleted: true, deletedAt: now.Unix()}
	return tomb, appendJSON(nil, members(
		"version", current.version,
		"timestamp", now.Unix(),
		"clientToken", tokenMember(token),
	)), nil
}

// ClientToken is the clientToken of a request payload, or "" when it has none (or not a valid one).
// Transports use it to echo the token in rejections they make themselves (401, 403, 429).
func ClientToken(request []byte) string {
	token, _ := tokenOf(request)
	return token
}

// tokenOf reads the clientToken of a payload that is a JSON object; ok is false when the member is
// there but not a string of at most MaxClientTokenBytes.
func tokenOf(request []byte) (token string, ok bool) {
	if len(request) == 0 || !utf8.Valid(request) {
		return "", true
	}
	v, err := decodeJSON(request)
	if err != nil {
		return "", true
	}
	o, isObj := v.(*object)
	if !isObj {
		return "", true
	}
	t, present := o.get("clientToken")
	if !present || t == nil {
		return "", true
	}
	s, isStr := t.(string)
	if !isStr || len(s) > MaxClientTokenBytes {
		return "", false
	}
	return s, true
}

// ListNamedShadows is the ListNamedShadowsForThing response document {"results", "nextToken"?,
// "timestamp"} (AWS: device-shadow-document.html#device-shadow-list-json); the classic shadow is
// never listed.
func ListNamedShadows(names []string, nextToken string, now time.Time) []byte {
	results := make([]any, len(names))
	for i, n := range names {
		results[i] = n
	}
	next := any(omitted)
	if nextToken != "" {
		next = nextToken
	}
	return appendJSON(nil, members("results", results, "nextToken", next, "timestamp", now.Unix()))
}

func tokenMember(token string) any {
	if token == "" {
		return omitted
	}
	return token
}

// tokenOnly reads the clientToken of a /get or /delete payload, whose other content is ignored.
func tokenOnly(request []byte, now time.Time) (string, *Error) {
	token, ok := tokenOf(request)
	if !ok {
		return "", NewError(400, MsgInvalidClientToken, "", now)
	}
	return token, nil
}

func parseUpdate(request []byte, now time.Time) (*updateRequest, *Error) {
	if !utf8.Valid(request) {
		return nil, NewError(415, MsgUnsupportedEncoding, "", now)
	}
	v, err := decodeJSON(request)
	if err != nil {
		return nil, NewError(400, MsgInvalidJSON, "", now)
	}
	doc, ok := v.(*object)
	if !ok {
		return nil, NewError(400, MsgInvalidJSON, "", now)
	}
	req := &updateRequest{}
	if t, present := doc.get("clientToken"); present && t != nil {
		s, ok := t.(string)
		if !ok || len(s) > MaxClientTokenBytes {
			return nil, NewError(400, MsgInvalidClientToken, "", now)
		}
		req.token = s
	}
	reject := func(code int, msg string) (*updateRequest, *Error) {
		return nil, NewError(code, msg, req.token, now)
	}
	if ver, present := doc.get("version"); present && ver != nil {
		n, ok := ver.(json.Number)
		if !ok {
			return reject(400, MsgInvalidVersion)
		}
		v, ok := integer(n)
		if !ok || v < 0 {
			return reject(400, MsgInvalidVersion)
		}
		req.version, req.hasVersion = v, true
	}
	st, present := doc.get("state")
	if !present {
		return reject(400, MsgMissingState)
	}
	if st == nil {
		req.stateNull = true
		return req, nil
	}
	state, ok := st.(*object)
	if !ok {
		return reject(400, MsgStateNotObject)
	}
	for i, k := range state.keys {
		v := state.vals[i]
		switch k {
		case "desired", "reported":
			if _, ok := v.(*object); !ok && v != nil {
				if k == "desired" {
					return reject(400, MsgDesiredNotObject)
				}
				return reject(400, MsgReportedNotObject)
			}
		case "delta":
		default:
			// The quoted name follows moto's record of the service's answer
			// ("State contains an invalid node: 'foo'"); AWS's table gives the text before the colon.
			return reject(400, MsgInvalidNode+": '"+k+"'")
		}
	}
	for _, k := range []string{"desired", "reported"} {
		v, _ := state.get(k)
		if hasNullInArray(v) {
			// "Arrays can't have null values … will be rejected" (device-shadow-document); the
			// message is our choice among the documented 400s.
			return reject(400, MsgInvalidNode)
		}
		if tooDeep(v, 1) {
			return reject(400, MsgTooDeep)
		}
	}
	req.state = state
	return req, nil
}

// integer reads a JSON number as an int64 if it is a whole number ("3", "3.0", "3e2").
func integer(n json.Number) (int64, bool) {
	if v, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != float64(int64(f)) || f >= 1<<63 || f < -(1<<63) {
		return 0, false
	}
	return int64(f), true
}

// tooDeep reports whether v, at the given level, holds a non-empty object or array below MaxDepth.
func tooDeep(v any, level int) bool {
	switch v := v.(type) {
	case *object:
		if v.len() == 0 {
			return false
		}
		if level > MaxDepth {
			return true
		}
		for _, x := range v.vals {
			if tooDeep(x, level+1) {
				return true
			}
		}
	case []any:
		if len(v) == 0 {
			return false
		}
		if level > MaxDepth {
			return true
		}
		for _, x := range v {
			if tooDeep(x, level+1) {
				return true
			}
		}
	}
	return false
}

// hasNullInArray reports whether an array anywhere in v has a null element. Nulls in objects inside
// arrays are members of an array value and are kept as sent.
func hasNullInArray(v any) bool {
	switch v := v.(type) {
	case *object:
		for _, x := range v.vals {
			if hasNullInArray(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if x == nil || hasNullInArray(x) {
				return true
			}
		}
	}
	return false
}

// applySection applies the patch of one section (an object or null) to a copy of that section.
func applySection(section, meta *object, patch any, ts int64) (*object, *object) {
	p, _ := patch.(*object)
	if p.len() == 0 { // null or {}: remove the section
		return nil, nil
	}
	if section == nil {
		section, meta = newObject(), newObject()
	}
	merge(section, meta, p, ts)
	if section.len() == 0 {
		return nil, nil
	}
	return section, meta
}

// merge applies patch to dst, keeping meta (dst's metadata) in step.
func merge(dst, meta, patch *object, ts int64) {
	for i, k := range patch.keys {
		pv := patch.vals[i]
		po, isObj := pv.(*object)
		switch {
		case pv == nil || (isObj && po.len() == 0):
			dst.del(k)
			meta.del(k)
		case isObj:
			old, _ := dst.get(k)
			child, ok := old.(*object)
			m, _ := meta.get(k)
			childMeta, _ := m.(*object)
			switch {
			case !ok: // a leaf or array becomes an object: only the patch's members survive
				child, childMeta = newObject(), newObject()
			case childMeta == nil: // unreachable for metadata that loadSection checked
				childMeta = metadataOf(child, 0).(*object)
			}
			merge(child, childMeta, po, ts)
			if child.len() == 0 {
				dst.del(k)
				meta.del(k)
			} else {
				dst.set(k, child)
				meta.set(k, childMeta)
			}
		default:
			dst.set(k, clone(pv))
			meta.set(k, metadataOf(pv, ts))
		}
	}
}

// metadataOf mirrors v with {"timestamp": ts} at every leaf, null included (the accepted document
// of "desired": null carries "desired": {"timestamp": …}, device-shadow-data-flow). Arrays get one
// entry per element, as the service does (observed: "Values":[{Timestamp:1613810500}
// {Timestamp:1613810500}] for a two-element array, github.com/seqsense/aws-iot-device-sdk-go/pull/213;
// AWS's example document shows one timestamp for an array, but it is hand-written).
func metadataOf(v any, ts int64) any {
	switch v := v.(type) {
	case *object:
		m := newObject()
		for i, k := range v.keys {
			m.set(k, metadataOf(v.vals[i], ts))
		}
		return m
	case []any:
		m := make([]any, len(v))
		for i, x := range v {
			m[i] = metadataOf(x, ts)
		}
		return m
	}
	return &object{keys: []string{"timestamp"}, vals: []any{ts}}
}

// document is {"state":{desired?,reported?[,delta?]},"metadata":{desired?,reported?},"version"}.
func (s *Stored) document(withDelta bool) *object {
	state, meta := newObject(), newObject()
	if s.desired != nil {
		state.set("desired", s.desired)
		meta.set("desired", s.desiredMeta)
	}
	if s.reported != nil {
		state.set("reported", s.reported)
		meta.set("reported", s.reportedMeta)
	}
	if withDelta {
		if d, _ := s.delta(); d != nil {
			state.set("delta", d)
		}
	}
	return members("state", state, "metadata", meta, "version", s.version)
}

// delta is the part of desired that reported doesn't match, and its metadata, or nil, nil.
func (s *Stored) delta() (*object, *object) {
	if s.desired == nil {
		return nil, nil
	}
	d, m := deltaOf(s.desired, s.desiredMeta, s.reported)
	if d.len() == 0 {
		return nil, nil
	}
	return d, m
}

// deltaOf compares desired with reported key by key (AWS: device-shadow-document#delta-state): a
// desired member missing from reported or different from it is in the delta, nested objects are
// compared recursively and keep the path to the root, anything else (arrays included) is compared
// as a whole value and copied whole. Members only in reported are not in the delta. The delta's
// metadata is the desired metadata of the same members.
func deltaOf(desired, desiredMeta, reported *object) (*object, *object) {
	delta, meta := newObject(), newObject()
	for i, k := range desired.keys {
		dv := desired.vals[i]
		dm, _ := desiredMeta.get(k)
		rv, ok := reported.get(k)
		if !ok {
			delta.set(k, dv)
			meta.set(k, dm)
			continue
		}
		do, dIsObj := dv.(*object)
		ro, rIsObj := rv.(*object)
		if dIsObj && rIsObj {
			dmo, _ := dm.(*object)
			sub, subMeta := deltaOf(do, dmo, ro)
			if sub.len() > 0 {
				delta.set(k, sub)
				meta.set(k, subMeta)
			}
			continue
		}
		if !equal(dv, rv) {
			delta.set(k, dv)
			meta.set(k, dm)
		}
	}
	return delta, meta
}
