package awsfake

import "net/http"

// Fault is an error response injected with Server.Inject.
type Fault struct {
	kind    faultKind
	status  int
	code    string
	message string
}

type faultKind int

const (
	customFault faultKind = iota
	throttleFault
	internalFault
)

var (
	// Throttle is the service's own throttling error, which the SDK's
	// standard retryer retries: EC2 RequestLimitExceeded (HTTP 503), AWS
	// Backup ThrottlingException (HTTP 400), CloudWatch Throttling (HTTP 400).
	Throttle = Fault{kind: throttleFault}

	// InternalError is an HTTP 500 with the service's internal error code
	// (EC2 InternalError, Backup ServiceUnavailableException, CloudWatch
	// InternalServiceError); the SDK retries it.
	InternalError = Fault{kind: internalFault}
)

// APIError is a fault with the given HTTP status, error code and message,
// encoded the way the operation's protocol encodes errors.
func APIError(status int, code, message string) Fault {
	return Fault{kind: customFault, status: status, code: code, message: message}
}

// Inject makes the next n calls of operation op fail with f. Injections for
// the same operation queue up in order; an injected call still counts in
// Calls.
func (s *Server) Inject(op string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[op] = append(s.faults[op], f)
	}
}

// apiError is an error answer before protocol encoding.
type apiError struct {
	status  int
	code    string
	message string
}

// Service names used to pick a fault's concrete code.
const (
	svcEC2        = "ec2"
	svcBackup     = "backup"
	svcCloudWatch = "cloudwatch"
)

// apiError resolves f for one service.
func (f Fault) apiError(service string) *apiError {
	switch f.kind {
	case throttleFault:
		switch service {
		case svcEC2:
			return &apiError{http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."}
		case svcBackup:
			return &apiError{http.StatusBadRequest, "ThrottlingException", "Rate exceeded"}
		default:
			return &apiError{http.StatusBadRequest, "Throttling", "Rate exceeded"}
		}
	case internalFault:
		switch service {
		case svcEC2:
			return &apiError{http.StatusInternalServerError, "InternalError", "An internal error has occurred"}
		case svcBackup:
			return &apiError{http.StatusInternalServerError, "ServiceUnavailableException", "An internal error has occurred"}
		default:
			return &apiError{http.StatusInternalServerError, "InternalServiceError", "An internal error has occurred"}
		}
	}
	return &apiError{f.status, f.code, f.message}
}
