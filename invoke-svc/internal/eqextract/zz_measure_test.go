package eqextract

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestZZMeasure(t *testing.T) {
	f := os.Getenv("MEASURE_FILE")
	if f == "" {
		t.Skip()
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	if strings.HasSuffix(f, ".pdf") {
		res, err = FromPDF(bytes.NewReader(b), int64(len(b)), nil)
	} else {
		res, err = FromArchive(bytes.NewReader(b), int64(len(b)), f)
	}
	js, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("json=%d eq=%d uncertain=%v warn=%v err=%v", len(js), len(res.Equations), res.UncertainPages, res.Warnings, err)
}
