package dispatch

import (
	"context"
	"errors"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorFromStatus maps a backend's gRPC error to what the client is told: the one place
// where gRPC codes become DOIP error kinds. Messages of NotFound, InvalidArgument,
// OutOfRange and ResourceExhausted are the backends' own, written for clients (a bad source,
// the budget a run exceeded); others are replaced by a sentence that names the backend, so
// no internal detail leaks. Internal (storage full or unwritable, a path that escapes its
// folder) stays Internal: it is logged and never retried.
func errorFromStatus(err error, backend string) error {
	var e *doip.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return doip.Errorf(doip.KindUnavailable, "%s did not answer in time", backend)
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return doip.Errorf(doip.KindNotFound, "%s", st.Message())
	case codes.InvalidArgument, codes.OutOfRange, codes.FailedPrecondition:
		return doip.Errorf(doip.KindBadRequest, "%s", st.Message())
	case codes.AlreadyExists, codes.Aborted:
		// A taken id; an object changed since the version the client read.
		return doip.Errorf(doip.KindConflict, "%s", st.Message())
	case codes.PermissionDenied:
		return doip.Errorf(doip.KindForbidden, "%s", st.Message())
	case codes.Unauthenticated:
		return doip.Errorf(doip.KindUnauthenticated, "%s", st.Message())
	case codes.Unimplemented:
		return doip.Errorf(doip.KindUnsupported, "%s does not support this operation", backend)
	case codes.ResourceExhausted:
		return doip.Errorf(doip.KindLimitExceeded, "%s", st.Message())
	case codes.Unavailable:
		return doip.Errorf(doip.KindUnavailable, "%s unavailable", backend)
	case codes.DeadlineExceeded:
		return doip.Errorf(doip.KindUnavailable, "%s did not answer in time", backend)
	case codes.Canceled:
		return doip.Errorf(doip.KindUnavailable, "request cancelled")
	default:
		// Internal, Unknown, DataLoss: logged by the caller with err, told as internal.
		return err
	}
}
