package dispatch

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// ROCrateElement is the element id that asks for an object as an RO-Crate, as MaRDI's
// server offers it.
const ROCrateElement = "rocrate"

// The files of a crate besides the components.
const (
	crateMetadataFile = "ro-crate-metadata.json"
	crateRecordFile   = "fdo-record.json"
)

// retrieveROCrate answers a retrieve of the element "rocrate": the stored component when the
// record lists one, else an RO-Crate built on the fly, a ZIP (stored, not compressed) of
// ro-crate-metadata.json made from the record, the record itself, and every stored
// component. The ZIP's length is known before its first byte (stored entries make it depend
// on names and sizes only), so every framing can announce it; the components are streamed
// into it one after the other, never held.
func (d *Dispatcher) retrieveROCrate(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	rec, err := d.getRecord(ctx, req.ObjectID, true, req.Version)
	if err != nil {
		return err
	}
	for _, c := range rec.GetComponents() {
		if c.GetComponentId() == ROCrateElement {
			return d.retrieveComponent(ctx, w, req)
		}
	}
	var parts []*retrievev1.Component
	for _, c := range rec.GetComponents() {
		if c.Size != nil && c.GetComponentId() != crateMetadataFile && c.GetComponentId() != crateRecordFile {
			parts = append(parts, c)
		}
	}
	meta, err := crateMetadata(rec, parts)
	if err != nil {
		return err
	}
	record := rec.GetRecordJson()
	// The same writer over zeros of the same lengths gives the exact size.
	var count countWriter
	if err := writeCrate(&count, meta, record, parts, func(c *retrievev1.Component) io.Reader {
		return io.LimitReader(zeros{}, c.GetSize())
	}); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		pw.CloseWithError(writeCrate(pw, meta, record, parts, func(c *retrievev1.Component) io.Reader {
			return d.lazyComponent(cctx, rec.GetObjectId(), c.GetComponentId(), c.GetSize(), rec.GetVersion())
		}))
	}()
	err = w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Component: &doip.ComponentBody{
		ID: ROCrateElement, MediaType: "application/zip", Filename: rec.GetObjectId() + ".rocrate.zip",
		Size: int64(count), Body: pr, Version: rec.GetVersion(),
	}})
	_ = pr.CloseWithError(errors.New("answer ended"))
	return err
}

// writeCrate writes the crate's ZIP to w, each component's bytes from open.
func writeCrate(w io.Writer, meta, record []byte, parts []*retrievev1.Component, open func(*retrievev1.Component) io.Reader) error {
	zw := zip.NewWriter(w)
	add := func(name string, r io.Reader) error {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		return err
	}
	if err := add(crateMetadataFile, bytes.NewReader(meta)); err != nil {
		return err
	}
	if err := add(crateRecordFile, bytes.NewReader(record)); err != nil {
		return err
	}
	for _, c := range parts {
		if err := addExact(zw, c, open(c)); err != nil {
			return err
		}
	}
	return zw.Close()
}

// addExact adds a component whose reader must yield exactly its size.
func addExact(zw *zip.Writer, c *retrievev1.Component, r io.Reader) error {
	f, err := zw.CreateHeader(&zip.FileHeader{Name: c.GetComponentId(), Method: zip.Store})
	if err != nil {
		return err
	}
	return doip.CopyExact(f, r, c.GetSize())
}

// crateMetadata makes ro-crate-metadata.json (RO-Crate 1.1): the root dataset named after
// the object, the record, and a File entity per component.
func crateMetadata(rec *retrievev1.GetRecordResponse, parts []*retrievev1.Component) ([]byte, error) {
	type ref struct {
		ID string `json:"@id"`
	}
	name := rec.GetObjectId()
	var content struct {
		Name    string `json:"name"`
		Label   string `json:"label"`
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
	}
	if json.Unmarshal(rec.GetRecordJson(), &content) == nil {
		for _, n := range []string{content.Name, content.Label, content.Profile.Name} {
			if n != "" {
				name = n
				break
			}
		}
	}
	hasPart := []ref{{crateRecordFile}}
	graph := []any{
		map[string]any{"@id": crateMetadataFile, "@type": "CreativeWork", "conformsTo": ref{"https://w3id.org/ro/crate/1.1"}, "about": ref{"./"}},
		nil, // the root, below
		map[string]any{"@id": crateRecordFile, "@type": "File", "name": "FDO record of " + rec.GetObjectId(), "encodingFormat": "application/json"},
	}
	for _, c := range parts {
		hasPart = append(hasPart, ref{c.GetComponentId()})
		graph = append(graph, map[string]any{"@id": c.GetComponentId(), "@type": "File", "name": c.GetFilename(),
			"encodingFormat": c.GetMediaType(), "contentSize": strconv.FormatInt(c.GetSize(), 10)})
	}
	root := map[string]any{"@id": "./", "@type": "Dataset", "identifier": rec.GetObjectId(), "name": name, "hasPart": hasPart}
	if t := rec.GetObjectType(); t != "" {
		root["additionalType"] = t
	}
	if v := rec.GetVersion(); v != "" {
		root["version"] = v
	}
	graph[1] = root
	return json.MarshalIndent(map[string]any{"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": graph}, "", "  ")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
