package awsfake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ec2Namespace is the XML namespace of EC2 API version 2016-11-15, the one
// the SDK sends in Version=.
const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2TimeFormat is how EC2 writes timestamps (ISO 8601, milliseconds, UTC).
const ec2TimeFormat = "2006-01-02T15:04:05.000Z"

// ec2Form is a decoded EC2 Query request: flat keys such as
// "TagSpecification.1.Tag.2.Key", lists numbered from 1.
type ec2Form url.Values

func (f ec2Form) get(key string) string { return url.Values(f).Get(key) }

func (f ec2Form) has(key string) bool { _, ok := f[key]; return ok }

// list returns prefix.1, prefix.2, ... up to the first gap.
func (f ec2Form) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + "." + strconv.Itoa(i)
		if !f.has(k) {
			return out
		}
		out = append(out, f.get(k))
	}
}

// filter is one Filter.N of a Describe call.
type filter struct {
	name   string
	values []string
}

func (f ec2Form) filters() []filter {
	var out []filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		if !f.has(p + ".Name") {
			return out
		}
		out = append(out, filter{name: f.get(p + ".Name"), values: f.list(p + ".Value")})
	}
}

// tags returns the tags of the TagSpecification entries for resourceType,
// or an error for a specification of another resource type.
func (f ec2Form) tags(resourceType string) ([]xmlTag, *apiError) {
	var out []xmlTag
	for i := 1; ; i++ {
		p := "TagSpecification." + strconv.Itoa(i)
		if !f.has(p + ".ResourceType") {
			return out, nil
		}
		if rt := f.get(p + ".ResourceType"); rt != resourceType {
			return nil, ec2Error("InvalidParameterValue",
				fmt.Sprintf("'%s' is not a valid taggable resource type for this operation.", rt))
		}
		for j := 1; ; j++ {
			q := p + ".Tag." + strconv.Itoa(j)
			if !f.has(q + ".Key") {
				break
			}
			out = append(out, xmlTag{Key: f.get(q + ".Key"), Value: f.get(q + ".Value")})
		}
	}
}

// maxResults parses MaxResults (0 when absent) and checks it is in [lo, hi].
func (f ec2Form) maxResults(lo, hi int) (int, *apiError) {
	if !f.has("MaxResults") {
		return 0, nil
	}
	n, err := strconv.Atoi(f.get("MaxResults"))
	if err != nil || n < lo || n > hi {
		return 0, ec2Error("InvalidParameterValue", fmt.Sprintf(
			"Value ( %s ) for parameter maxResults is invalid. Expecting a value between %d and %d.", f.get("MaxResults"), lo, hi))
	}
	return n, nil
}

func ec2Error(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message}
}

// serveEC2 answers one EC2 Query request.
func (s *Server) serveEC2(w http.ResponseWriter, c *call) {
	values, err := url.ParseQuery(string(c.body))
	if err != nil {
		writeEC2Error(w, ec2Error("MalformedQueryString", err.Error()))
		return
	}
	form := ec2Form(values)
	c.op = form.get("Action")
	if f := s.begin(c); f != nil {
		writeEC2Error(w, f.apiError(svcEC2))
		return
	}
	if form.get("DryRun") == "true" {
		writeEC2Error(w, &apiError{http.StatusPreconditionFailed, "DryRunOperation",
			"Request would have succeeded, but DryRun flag is set."})
		return
	}
	var resp any
	var aerr *apiError
	switch c.op {
	case "CreateSnapshot":
		resp, aerr = s.createSnapshot(c.region, form)
	case "DescribeSnapshots":
		resp, aerr = s.describeSnapshots(c.region, form)
	case "DeleteSnapshot":
		resp, aerr = s.deleteSnapshot(c.region, form)
	case "CopySnapshot":
		resp, aerr = s.copySnapshot(c.region, form)
	case "DescribeVolumes":
		resp, aerr = s.describeVolumes(c.region, form)
	default:
		aerr = s.outsideModel(svcEC2, c.op)
	}
	if aerr != nil {
		writeEC2Error(w, aerr)
		return
	}
	writeEC2(w, c.op, resp)
}

// writeEC2 writes <ActionResponse xmlns=...><requestId/>...fields of body...
// </ActionResponse>. body is a struct whose fields are the response members.
func writeEC2(w http.ResponseWriter, action string, body any) {
	inner, err := xml.Marshal(body)
	if err != nil {
		writeEC2Error(w, &apiError{http.StatusInternalServerError, "InternalError", err.Error()})
		return
	}
	// Drop body's own root element; its fields belong to the envelope.
	if i, j := bytes.IndexByte(inner, '>'), bytes.LastIndex(inner, []byte("</")); i >= 0 && j > i {
		inner = inner[i+1 : j]
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\"><requestId>%s</requestId>",
		action, ec2Namespace, newUUID())
	buf.Write(inner)
	fmt.Fprintf(&buf, "</%sResponse>", action)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// writeEC2Error writes the EC2 error envelope the SDK's ec2query parser reads.
func writeEC2Error(w http.ResponseWriter, e *apiError) {
	var code, msg bytes.Buffer
	xml.EscapeText(&code, []byte(e.code))
	xml.EscapeText(&msg, []byte(e.message))
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>",
		code.Bytes(), msg.Bytes(), newUUID())
}

// xmlTag is an EC2 tagSet item.
type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2Time(t time.Time) string { return t.UTC().Format(ec2TimeFormat) }
