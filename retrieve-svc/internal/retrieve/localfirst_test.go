package retrieve

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagemem"
)

type façadeRecords map[string]string

func (f façadeRecords) Record(_ context.Context, qid string) ([]byte, error) {
	return []byte(f[qid]), nil
}

func TestLocalFirst(t *testing.T) {
	t.Parallel()
	b := storagemem.New()
	rec := `{"id":"Q991","type":"Dataset","attributes":{"content":{"name":"Pelican counts"}},"elements":[],"revision":1}`
	if _, err := b.Put(t.Context(), objectid.RecordKey("main", "Q991"), strings.NewReader(rec), int64(len(rec))); err != nil {
		t.Fatal(err)
	}
	src := LocalFirst(b, "main", façadeRecords{"Q123": `{"kernel":{"digitalObjectType":"x"}}`})

	raw, err := src.Record(t.Context(), "Q991")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name   string `json:"name"`
		Kernel struct {
			ID   string `json:"@id"`
			Type string `json:"digitalObjectType"`
		} `json:"kernel"`
	}
	if err := json.Unmarshal(raw, &got); err != nil || got.Name != "Pelican counts" || got.Kernel.ID != "Q991" || got.Kernel.Type != "Dataset" {
		t.Errorf("local record = %s (%v); want its content with a kernel naming Q991 and Dataset", raw, err)
	}
	if raw, err := src.Record(t.Context(), "Q123"); err != nil || string(raw) != `{"kernel":{"digitalObjectType":"x"}}` {
		t.Errorf("façade record = %s, %v; want the façade's bytes", raw, err)
	}
}
