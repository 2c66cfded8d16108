package mardijson

import (
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func helloJSON(t *testing.T, resp *doip.Response) string {
	t.Helper()
	meta, _, _, err := ResponseParts(resp)
	if err != nil {
		t.Fatal(err)
	}
	return string(meta)
}

// TestHelloMemoFollowsChanges: the remembered hello and list of operations are those of
// the answer asked for, whatever was rendered before, and changing the inputs after an
// answer does not change what was remembered.
func TestHelloMemoFollowsChanges(t *testing.T) {
	ops := map[string]doip.Op{"hello": doip.OpHello, "retrieve": doip.OpRetrieve}
	wfs := []string{"extract"}
	hello := func() *doip.Response {
		return &doip.Response{Op: doip.OpHello, Hello: &doip.ServiceInfo{ServiceID: "svc", Server: "gw", Version: "1", Operations: ops, Workflows: wfs}}
	}
	first := helloJSON(t, hello())
	want := `{"operation":"hello","status":"ok","server":"gw","version":2,"availableOperations":{"hello":1,"retrieve":2},"serverVersion":"1","serviceId":"svc","workflows":["extract"]}`
	if first != want {
		t.Fatalf("hello = %s\nwant    %s", first, want)
	}
	if again := helloJSON(t, hello()); again != first {
		t.Fatalf("second hello = %s", again)
	}
	list := helloJSON(t, &doip.Response{Op: doip.OpListOps, Operations: &doip.OperationList{Operations: ops, Workflows: wfs}})
	if list != `{"operation":"list_operations","availableOperations":{"hello":1,"retrieve":2},"workflows":["extract"]}` {
		t.Fatalf("list operations = %s", list)
	}
	wfs[0] = "convert" // the same slice, changed in place
	if got := helloJSON(t, hello()); got == first {
		t.Fatalf("a changed workflow name was not seen: %s", got)
	}
	wfs = append(wfs, "extract")
	ops["invoke"] = doip.OpInvoke
	got := helloJSON(t, hello())
	if want := `{"operation":"hello","status":"ok","server":"gw","version":2,"availableOperations":{"hello":1,"retrieve":2,"invoke":5},"serverVersion":"1","serviceId":"svc","workflows":["convert","extract"]}`; got != want {
		t.Fatalf("hello = %s\nwant    %s", got, want)
	}
	if got := helloJSON(t, &doip.Response{Op: doip.OpHello, Hello: &doip.ServiceInfo{ServiceID: "other", Operations: ops}}); got == first {
		t.Fatal("another service id was answered from the memo")
	}
}

func BenchmarkResponsePartsHello(b *testing.B) {
	resp := &doip.Response{Op: doip.OpHello, Hello: &doip.ServiceInfo{ServiceID: "svc", Server: "gw", Version: "1",
		Operations: map[string]doip.Op{"hello": doip.OpHello, "retrieve": doip.OpRetrieve, "invoke": doip.OpInvoke}, Workflows: []string{"extract"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := ResponseParts(resp); err != nil {
			b.Fatal(err)
		}
	}
}
