package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/backup"
)

// backupRoute is one REST-JSON operation: method and path, "*" being a
// label (an ARN label arrives percent-encoded, "/" included).
type backupRoute struct {
	method string
	path   []string
	op     string
}

var backupRoutes = []backupRoute{
	{http.MethodPut, []string{"backup-jobs"}, "StartBackupJob"},
	{http.MethodGet, []string{"backup-jobs", "*"}, "DescribeBackupJob"},
	{http.MethodGet, []string{"resources", "*", "recovery-points"}, "ListRecoveryPointsByResource"},
	{http.MethodGet, []string{"tags", "*"}, "ListTags"},
	{http.MethodDelete, []string{"backup-vaults", "*", "recovery-points", "*"}, "DeleteRecoveryPoint"},
	{http.MethodGet, []string{"backup-vaults", "*", "recovery-points", "*", "restore-metadata"}, "GetRecoveryPointRestoreMetadata"},
	{http.MethodPut, []string{"restore-jobs"}, "StartRestoreJob"},
	{http.MethodGet, []string{"restore-jobs", "*"}, "DescribeRestoreJob"},
}

// route finds the operation for r and its labels in path order.
func route(r *http.Request) (op string, labels []string, ok bool) {
	var segs []string
	for _, raw := range strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") {
		seg, err := url.PathUnescape(raw)
		if err != nil {
			return "", nil, false
		}
		segs = append(segs, seg)
	}
next:
	for _, rt := range backupRoutes {
		if rt.method != r.Method || len(rt.path) != len(segs) {
			continue
		}
		labels = labels[:0]
		for i, p := range rt.path {
			switch {
			case p == "*":
				labels = append(labels, segs[i])
			case p != segs[i]:
				continue next
			}
		}
		return rt.op, labels, true
	}
	return "", nil, false
}

// serveBackup answers one AWS Backup REST-JSON request.
func (s *Server) serveBackup(w http.ResponseWriter, c *call) {
	op, labels, ok := route(c.r)
	if !ok {
		writeBackupError(w, s.outsideModel(svcBackup, c.r.Method+" "+c.r.URL.Path))
		return
	}
	c.op = op
	if f := s.begin(c); f != nil {
		writeBackupError(w, f.apiError(svcBackup))
		return
	}
	q := c.r.URL.Query()
	var resp any
	var aerr *apiError
	switch op {
	case "StartBackupJob":
		var in backup.StartBackupJobInput
		if aerr = decodeBackup(c.body, &in); aerr == nil {
			resp, aerr = s.startBackupJob(c.region, &in)
		}
	case "DescribeBackupJob":
		resp, aerr = s.describeBackupJob(labels[0])
	case "ListRecoveryPointsByResource":
		max, err := backupMaxResults(q.Get("maxResults"))
		if aerr = err; aerr == nil {
			resp, aerr = s.listRecoveryPointsByResource(labels[0], max, q.Get("nextToken"))
		}
	case "ListTags":
		max, err := backupMaxResults(q.Get("maxResults"))
		if aerr = err; aerr == nil {
			resp, aerr = s.listTags(labels[0], max, q.Get("nextToken"))
		}
	case "DeleteRecoveryPoint":
		resp, aerr = s.deleteRecoveryPoint(labels[0], labels[1])
	case "GetRecoveryPointRestoreMetadata":
		resp, aerr = s.restoreMetadata(labels[0], labels[1])
	case "StartRestoreJob":
		var in backup.StartRestoreJobInput
		if aerr = decodeBackup(c.body, &in); aerr == nil {
			resp, aerr = s.startRestoreJob(c.region, &in)
		}
	case "DescribeRestoreJob":
		resp, aerr = s.describeRestoreJob(labels[0])
	}
	if aerr != nil {
		writeBackupError(w, aerr)
		return
	}
	body, err := marshalJSON(resp)
	if err != nil {
		writeBackupError(w, &apiError{http.StatusInternalServerError, "ServiceUnavailableException", err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// decodeBackup reads a JSON body into an SDK input type; the JSON member
// names are the Go field names.
func decodeBackup(body []byte, into any) *apiError {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, into); err != nil {
		return backupError(http.StatusBadRequest, "SerializationException", err.Error())
	}
	return nil
}

// backupMaxResults parses the maxResults query parameter (0 when absent).
func backupMaxResults(v string) (int, *apiError) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, backupError(http.StatusBadRequest, "InvalidParameterValueException",
			fmt.Sprintf("maxResults %q must be between 1 and 1000", v))
	}
	return n, nil
}

func backupError(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func backupNotFound(format string, args ...any) *apiError {
	return backupError(http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf(format, args...))
}

// writeBackupError writes a REST-JSON error: the code in X-Amzn-Errortype
// and again in the body, which also has the fields Backup's modelled
// exceptions carry (Code, Message, Type).
func writeBackupError(w http.ResponseWriter, e *apiError) {
	typ := "User"
	if e.status >= 500 {
		typ = "Service"
	}
	body, _ := json.Marshal(map[string]string{
		"__type": e.code, "Code": e.code, "Message": e.message, "Type": typ,
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(e.status)
	w.Write(body)
}
