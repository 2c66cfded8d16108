package dispatch

import (
	"slices"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const typeBase = "https://fdo.example.org/fdo/types/"

// typedRetrieve serves Q1 (ScholarlyArticle), Q2 (Person), Q3 (a type without a type record)
// and Q4 (a type whose record lists nothing), and the type records they name.
func typedRetrieve(asked *[]string) *stubRetrieve {
	types := map[string]string{
		typeBase + "ScholarlyArticle": `{"applicableOperations":["0.DOIP/Op.Retrieve","0.DOIP/Op.Update","0.MaRDI/Op.Purge","0.MaRDI/Op.Invoke"]}`,
		typeBase + "Person":           `{"applicableOperations":["0.DOIP/Op.Retrieve","0.MaRDI/Op.Describe",7,"0.MaRDI/Op.Purge"]}`,
		typeBase + "Empty":            `{"applicableOperations":[]}`,
		"types/Person":                `{"@type":"DigitalObjectType","applicableOperations":["0.DOIP/Op.Retrieve"]}`,
	}
	objects := map[string]string{"Q1": "ScholarlyArticle", "Q2": "Person", "Q3": "Gone", "Q4": "Empty"}
	return &stubRetrieve{getRecord: func(r *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
		*asked = append(*asked, r.GetObjectId())
		if js, ok := types[r.GetObjectId()]; ok {
			return &retrievev1.GetRecordResponse{ObjectId: "types/x", RecordJson: []byte(js)}, nil
		}
		typ, ok := objects[r.GetObjectId()]
		if !ok {
			return nil, status.Errorf(codes.NotFound, "no object %s", r.GetObjectId())
		}
		return &retrievev1.GetRecordResponse{ObjectId: r.GetObjectId(), RecordJson: []byte(`{}`), ObjectType: typeBase + typ,
			Components: []*retrievev1.Component{{ComponentId: "main-pdf", MediaType: "application/pdf"}}}, nil
	}}
}

func TestListOpsIntersectsTypeOperations(t *testing.T) {
	t.Parallel()
	var asked []string
	d := newDispatcher(t, typedRetrieve(&asked), &stubInvoke{})
	for _, tc := range []struct {
		object        string
		wantOps       []string // names in the operation map besides hello and list operations
		wantWorkflows string
	}{
		{"Q1", []string{"invoke", "purge", "retrieve"}, "equation_extraction"},
		{"Q2", []string{"purge", "retrieve"}, ""},                              // Person: no invoke, so no workflows
		{"Q3", []string{"invoke", "purge", "retrieve"}, "equation_extraction"}, // no type record: unfiltered
		{"Q4", []string{"invoke", "purge", "retrieve"}, "equation_extraction"}, // an empty list says nothing
	} {
		var r recorder
		d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpListOps, ObjectID: tc.object})
		if r.err != nil {
			t.Fatalf("%s: %v", tc.object, r.err)
		}
		var got []string
		for name, op := range r.resp.Operations.Operations {
			if op != doip.OpHello && op != doip.OpListOps {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.wantOps) || strings.Join(r.resp.Operations.Workflows, ",") != tc.wantWorkflows {
			t.Errorf("%s: operations %v, workflows %v; want %v, %q", tc.object, got, r.resp.Operations.Workflows, tc.wantOps, tc.wantWorkflows)
		}
	}
	// The service-level map is never filtered.
	if len(Operations) != 5 {
		t.Errorf("Operations was modified: %v", Operations)
	}
	if !slices.Contains(asked, typeBase+"Person") {
		t.Errorf("type record never asked for: %v", asked)
	}
}

// A type record is retrieved by "types/{TypeId}"; an element is ignored (it has none).
func TestRetrieveTypeRecordIgnoresElement(t *testing.T) {
	t.Parallel()
	var asked []string
	d := newDispatcher(t, typedRetrieve(&asked), nil)
	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "types/Person", Element: "anything"})
	if r.err != nil || r.resp.Record == nil || !strings.Contains(string(r.resp.Record.JSON), "DigitalObjectType") {
		t.Fatalf("retrieve types/Person with an element = %+v, %v", r.resp, r.err)
	}
}

func TestIsTypeRecordID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"types/Person": true, "TYPES/x": true, typeBase + "Person": true, "http://h/types/x": true,
		"Q1": false, "types": false, "t/ScholarlyArticle": false, "ftp://h/types/x": false,
	} {
		if got := isTypeRecordID(id); got != want {
			t.Errorf("isTypeRecordID(%q) = %v", id, got)
		}
	}
}
