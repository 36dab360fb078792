package awsfake

import (
	"net/http"
	"path"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/smithy-go/encoding/cbor"
)

// cwPathPrefix is where the RPC v2 CBOR protocol posts CloudWatch calls:
// /service/<Smithy service shape>/operation/<Op>.
const cwPathPrefix = "/service/GraniteServiceVersion20100801/operation/"

// cwShapes maps the AWS Query error codes the fake returns to the Smithy
// error shapes CloudWatch declares for them (unknown codes go as they are).
var cwShapes = map[string]string{
	"InvalidParameterValue":       "InvalidParameterValueException",
	"InvalidParameterCombination": "InvalidParameterCombinationException",
	"MissingParameter":            "MissingRequiredParameterException",
	"ResourceNotFound":            "ResourceNotFound",
	"InvalidNextToken":            "InvalidNextToken",
	"LimitExceeded":               "LimitExceededFault",
	"InternalServiceError":        "InternalServiceFault",
	"Throttling":                  "ThrottlingException",
}

// serveCloudWatch answers one RPC v2 CBOR request.
func (s *Server) serveCloudWatch(w http.ResponseWriter, c *call) {
	dir, op := path.Split(c.r.URL.Path)
	c.op = op
	if dir+op != cwPathPrefix+op || c.r.Method != http.MethodPost {
		writeCWError(w, s.outsideModel(svcCloudWatch, c.r.Method+" "+c.r.URL.Path))
		return
	}
	if f := s.begin(c); f != nil {
		writeCWError(w, f.apiError(svcCloudWatch))
		return
	}
	if c.r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		writeCWError(w, cwError("MissingParameter", "the Smithy-Protocol header must be rpc-v2-cbor"))
		return
	}
	var resp any
	var aerr *apiError
	switch op {
	case "PutMetricData":
		var in cloudwatch.PutMetricDataInput
		if aerr = decodeCW(c.body, &in); aerr == nil {
			resp, aerr = s.putMetricData(c.region, &in)
		}
	case "PutMetricAlarm":
		var in cloudwatch.PutMetricAlarmInput
		if aerr = decodeCW(c.body, &in); aerr == nil {
			resp, aerr = s.putMetricAlarm(c.region, &in)
		}
	case "DescribeAlarms":
		var in cloudwatch.DescribeAlarmsInput
		if aerr = decodeCW(c.body, &in); aerr == nil {
			resp, aerr = s.describeAlarms(c.region, &in)
		}
	case "DeleteAlarms":
		var in cloudwatch.DeleteAlarmsInput
		if aerr = decodeCW(c.body, &in); aerr == nil {
			resp, aerr = s.deleteAlarms(c.region, &in)
		}
	default:
		aerr = s.outsideModel(svcCloudWatch, op)
	}
	if aerr != nil {
		writeCWError(w, aerr)
		return
	}
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(http.StatusOK)
	w.Write(marshalCBOR(resp))
}

func decodeCW(body []byte, into any) *apiError {
	if err := unmarshalCBOR(body, into); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	return nil
}

func cwError(code, message string) *apiError {
	status := http.StatusBadRequest
	if code == "ResourceNotFound" {
		status = http.StatusNotFound
	}
	return &apiError{status: status, code: code, message: message}
}

// writeCWError writes an RPC v2 CBOR error the way a Query-compatible
// service does: the Smithy shape in __type, the Query code and fault in
// X-Amzn-Query-Error (the SDK reports that one as ErrorCode()).
func writeCWError(w http.ResponseWriter, e *apiError) {
	shape, ok := cwShapes[e.code]
	if !ok {
		shape = e.code
	}
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	body := cbor.Encode(cbor.Map{
		"__type":  cbor.String("com.amazonaws.cloudwatch#" + shape),
		"message": cbor.String(e.message),
		"Message": cbor.String(e.message),
	})
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("X-Amzn-Query-Error", e.code+";"+fault)
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(e.status)
	w.Write(body)
}
