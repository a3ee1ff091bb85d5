package awsapi

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
)

// isSTS recognises an unsigned STS query-protocol call: POST / with an Action form field.
func isSTS(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

// serveSTS answers STS's query protocol (form in, XML out). Only GetCallerIdentity is offered: the
// book's code asks it for the account id. AWS: API_GetCallerIdentity
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request, reqID string) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		stsError(w, reqID, http.StatusBadRequest, "InvalidParameterValue", "malformed form body")
		return
	}
	action := r.Form.Get("Action")
	if action != "GetCallerIdentity" {
		stsError(w, reqID, http.StatusBadRequest, "InvalidAction", "Could not find operation "+url.QueryEscape(action)+" for version "+r.Form.Get("Version"))
		return
	}
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName  xml.Name `xml:"GetCallerIdentityResponse"`
		Xmlns    string   `xml:"xmlns,attr"`
		Result   result   `xml:"GetCallerIdentityResult"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}
	resp := response{Xmlns: "https://sts.amazonaws.com/doc/2011-06-15/"}
	resp.Result = result{
		Arn:     "arn:aws:iam::" + s.cfg.Account + ":user/iotlab",
		UserID:  "AIDAIOTLABLOCALUSER",
		Account: s.cfg.Account,
	}
	resp.Metadata.RequestID = reqID
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(resp)
}

func stsError(w http.ResponseWriter, reqID string, status int, code, msg string) {
	type errorResponse struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}
	var e errorResponse
	e.Xmlns = "https://sts.amazonaws.com/doc/2011-06-15/"
	e.Error.Type, e.Error.Code, e.Error.Message = "Sender", code, msg
	e.RequestID = reqID
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(e)
}
