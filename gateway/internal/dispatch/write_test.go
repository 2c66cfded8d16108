package dispatch

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/gateway/internal/access"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// The retrieve service's refusals of writes reach clients as conflicts and refusals.
func TestWriteErrorsFromStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[codes.Code]doip.ErrorKind{
		codes.AlreadyExists:      doip.KindConflict,
		codes.Aborted:            doip.KindConflict,
		codes.PermissionDenied:   doip.KindForbidden,
		codes.FailedPrecondition: doip.KindBadRequest,
		codes.Unauthenticated:    doip.KindUnauthenticated,
	} {
		e := doip.AsError(errorFromStatus(status.Error(code, "object Q991 changed"), "retrieve service"))
		if e.Kind != want || e.Message != "object Q991 changed" {
			t.Errorf("%s → %v, want %s", code, e, want)
		}
	}
}

// Who may do what: without an access policy nobody writes; with one, anonymous reads, a
// stale token on a read is served anonymously, and a write needs the permission.
func TestIdentify(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	legacy := &Dispatcher{}
	if _, err := legacy.identify(ctx, &doip.Request{Op: doip.OpCreate}); doip.AsError(err).Kind != doip.KindForbidden {
		t.Errorf("write without a policy: %v", err)
	}
	if _, err := legacy.identify(ctx, &doip.Request{Op: doip.OpInvoke}); err != nil {
		t.Errorf("invoke without tokens or policy: %v", err)
	}
	p := &access.Policy{Anonymous: access.Read}
	p.AddToken("w", "writer", access.Read|access.Write)
	d := &Dispatcher{Access: p}
	if id, err := d.identify(ctx, &doip.Request{Op: doip.OpRetrieve, Token: "stale"}); err != nil || !id.Anonymous() {
		t.Errorf("read with a stale token = %+v, %v", id, err)
	}
	if _, err := d.identify(ctx, &doip.Request{Op: doip.OpUpdate, Token: "stale"}); doip.AsError(err).Kind != doip.KindUnauthenticated {
		t.Errorf("write with a stale token: %v", err)
	}
	if id, err := d.identify(ctx, &doip.Request{Op: doip.OpDelete, Token: "w"}); err != nil || id.Name != "writer" {
		t.Errorf("write with the token = %+v, %v", id, err)
	}
}

// Update and delete name objects: on the service id they are not supported (Cordra's 200).
func TestWriteOnServiceID(t *testing.T) {
	t.Parallel()
	p := &access.Policy{}
	p.AddToken("w", "writer", access.All)
	d := &Dispatcher{Access: p, ServiceID: "svc"}
	for _, op := range []doip.Op{doip.OpUpdate, doip.OpDelete} {
		w := &recorder{}
		d.ServeDOIP(t.Context(), w, &doip.Request{Op: op, ObjectID: "svc", Token: "w", Write: &doip.Write{}})
		if w.err == nil || w.err.Kind != doip.KindUnsupported {
			t.Errorf("%s on the service id: %+v", op, w.err)
		}
	}
}
