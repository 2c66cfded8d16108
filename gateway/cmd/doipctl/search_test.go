package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

func TestSearchSendsMaRDIsMetadata(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
		ops  []byte
	)
	answer := `{"operation":"search","status":"ok","query":"x","type":null,"total_hits":1,"limit":5,"results":[{"qid":"Q123","title":"A Short Note","snippet":"(1) \\int","timestamp":""}]}`
	g := startFake(t, func(req *envelope.Message) *envelope.Message {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, byte(req.Header.Op))
		seen = append(seen, string(req.Metadata()))
		return jsonAnswer(answer)(req)
	})
	r := ctl(t, append([]string{"search", `formula:"\int_a^b f(x)\,dx"`, "--limit", "5", "--type", "publication"}, at(g.addr)...)...)
	if r.code != 0 || !strings.Contains(r.out, `"qid": "Q123"`) {
		t.Fatalf("%+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	var meta map[string]any
	if len(seen) != 1 || ops[0] != byte(doip.OpSearch) || json.Unmarshal([]byte(seen[0]), &meta) != nil {
		t.Fatalf("sent %q (op %v)", seen, ops)
	}
	want := map[string]any{"operation": "search", "query": `formula:"\int_a^b f(x)\,dx"`, "limit": float64(5), "type": "publication"}
	if !reflect.DeepEqual(meta, want) {
		t.Fatalf("metadata %v, want %v", meta, want)
	}
}

func TestSearchStandardAttributes(t *testing.T) {
	t.Parallel()
	c := searchCall("type:X", searchFlags{service: "svc", page: 2, pageSize: 10, sort: " /name,/date DESC ", ids: true, limit: 10})
	want := map[string]any{"query": "type:X", "pageNum": 2, "pageSize": 10, "type": "id", "sortFields": "/name,/date DESC"}
	if c.std.TargetID != "svc" || c.std.OperationID != "0.DOIP/Op.Search" || !reflect.DeepEqual(c.std.Attributes, want) {
		t.Fatalf("%+v", c.std)
	}
	if c = searchCall("q", searchFlags{limit: 10, pageSize: -1}); c.std.Attributes["type"] != "full" || c.req.Metadata["type"] != nil {
		t.Fatalf("defaults: %+v %+v", c.std, c.req)
	}
}

func TestSearchNeedsAQuery(t *testing.T) {
	t.Parallel()
	if r := ctl(t, "search"); r.code == 0 {
		t.Fatalf("search without a query: %+v", r)
	}
}
