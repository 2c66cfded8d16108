package dispatch

import (
	"bytes"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// TestVersionsFlow: a retrieve's version reaches the retrieve service, the answer names the
// version the bytes came from, the record's elements are read at the record's version, and
// an invoke's derived components are read at the run's commit, with the client named by a
// fingerprint of its token only.
func TestVersionsFlow(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		asked   []string
		clients []string
	)
	content := bytes.Repeat([]byte("%"), 600<<10) // the size record() lists
	rs := okRetrieve(content)
	getRecord, stream := rs.getRecord, rs.stream
	rs.getRecord = func(r *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
		mu.Lock()
		asked = append(asked, "record@"+r.GetVersion())
		mu.Unlock()
		rec, err := getRecord(r)
		if rec != nil {
			rec.Version = "c1"
		}
		return rec, err
	}
	rs.stream = func(r *retrievev1.StreamComponentRequest, st retrievev1.RetrieveService_StreamComponentServer) error {
		mu.Lock()
		asked = append(asked, r.GetComponentId()+"@"+r.GetVersion())
		mu.Unlock()
		return stream(r, st)
	}
	is := &stubInvoke{invoke: func(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
		mu.Lock()
		clients = append(clients, r.GetClient())
		mu.Unlock()
		_ = st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Derived{Derived: &invokev1.DerivedComponent{
			ComponentId: "equations.json", MediaType: "application/json", Size: int64(len(content)), Version: "c9"}}})
		return st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{Result: &invokev1.Result{ResultJson: []byte(`{}`), Version: "c9"}}})
	}}
	d := newDispatcher(t, rs, is)

	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "main-pdf", Version: "v7"})
	if r.err != nil {
		t.Fatal(r.err)
	}
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", IncludeElementData: true, Version: "main"})
	if r.err != nil || r.resp.Record.Version != "c1" || r.resp.Elements[0].Version != "c1" {
		t.Fatalf("record: %+v, %v", r.resp, r.err)
	}
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction", Token: "s3cret"})
	if r.err != nil || r.resp.Invoke.Version != "c9" || r.resp.Invoke.Derived[0].Version != "c9" {
		t.Fatalf("invoke: %+v, %v", r.resp, r.err)
	}
	want := []string{"main-pdf@v7", "record@main", "main-pdf@c1", "equations.json@c9"}
	if len(asked) != len(want) {
		t.Fatalf("asked %v, want %v", asked, want)
	}
	for i := range want {
		if asked[i] != want[i] {
			t.Errorf("call %d: %s, want %s", i, asked[i], want[i])
		}
	}
	if len(clients) != 1 || clients[0] != clientIdentity("s3cret") || len(clients[0]) != len("token:")+16 || clientIdentity("") != "anonymous" {
		t.Errorf("client identity %v", clients)
	}
}
