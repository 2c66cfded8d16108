package sampledata

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// seeded lists every file Seed writes, as slash paths below the root.
var seeded = []string{
	"main/00/01/23/Q123/components/main-pdf",
	"main/00/01/23/Q123/components/source.tex",
	"main/00/04/56/Q456/components/data.csv",
	"records/Q123.json",
	"records/Q456.json",
	"records/Q6190920.json",
	"records/types/Dataset.json",
	"records/types/Formula.json",
	"records/types/Person.json",
	"records/types/ScholarlyArticle.json",
	"records/types/SoftwareApplication.json",
	"records/types/SoftwareSourceCode.json",
	"records/types/Workflow.json",
}

const (
	pdfKey  = "main/00/01/23/Q123/components/main-pdf"
	texKey  = "main/00/01/23/Q123/components/source.tex"
	csvKey  = "main/00/04/56/Q456/components/data.csv"
	maxPDF  = 300 * 1024
	typeURL = "https://fdo.example.org/fdo/types/"
)

// shard returns the storage prefix of qid as the storage key layout defines it: the digits
// left-padded with zeros to six, the first six split 2-2-2, then the QID itself.
func shard(t *testing.T, qid string) string {
	t.Helper()
	digits := strings.TrimPrefix(qid, "Q")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		t.Fatalf("malformed QID %q", qid)
	}
	for len(digits) < 6 {
		digits = "0" + digits
	}
	return digits[0:2] + "/" + digits[2:4] + "/" + digits[4:6] + "/" + qid
}

func TestShard(t *testing.T) {
	t.Parallel()
	for qid, want := range map[string]string{
		"Q123":     "00/01/23/Q123",
		"Q456":     "00/04/56/Q456",
		"Q6190920": "61/90/92/Q6190920",
		"Q1":       "00/00/01/Q1",
		"Q123456":  "12/34/56/Q123456",
	} {
		if got := shard(t, qid); got != want {
			t.Errorf("shard(%q) = %q, want %q", qid, got, want)
		}
	}
}

// listFiles returns the slash paths of all regular files below root, sorted.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

func TestSeedWritesEmbeddedFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	n, err := Seed(root)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if n != len(seeded) {
		t.Errorf("Seed wrote %d files, want %d", n, len(seeded))
	}
	// Exactly the expected files: no README, no leftover temporary files.
	if got := listFiles(t, root); !slices.Equal(got, seeded) {
		t.Errorf("files below root:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(seeded, "\n"))
	}
	for _, name := range seeded {
		want, err := fs.ReadFile(FS(), name)
		if err != nil {
			t.Fatalf("embedded %s: %v", name, err)
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("seeded %s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: seeded %d bytes differ from embedded %d bytes", name, len(got), len(want))
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o644 {
			t.Errorf("%s: mode %v, want 0644", name, perm)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "main", "00", "01", "23", "Q123", "components"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o700 != 0o700 {
		t.Errorf("components folder: mode %v, want a folder with 0755 before the umask", fi.Mode())
	}
}

func TestSeedTwiceWritesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if _, err := Seed(root); err != nil {
		t.Fatalf("first Seed: %v", err)
	}
	n, err := Seed(root)
	if err != nil {
		t.Fatalf("second Seed: %v", err)
	}
	if n != 0 {
		t.Errorf("second Seed wrote %d files, want 0", n)
	}
	if got := listFiles(t, root); !slices.Equal(got, seeded) {
		t.Errorf("files after second Seed: %v", got)
	}
}

func TestSeedKeepsExistingFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	custom := []byte(`{"edited": "by the operator"}`)
	for _, name := range []string{"records/Q123.json", csvKey} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, custom, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := Seed(root)
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if n != len(seeded)-2 {
		t.Errorf("Seed wrote %d files, want %d", n, len(seeded)-2)
	}
	for _, name := range []string{"records/Q123.json", csvKey} {
		p := filepath.Join(root, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, custom) {
			t.Errorf("%s was overwritten: %q", name, got)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode changed to %v", name, perm)
		}
	}
	if got := listFiles(t, root); !slices.Equal(got, seeded) {
		t.Errorf("files below root: %v", got)
	}
}

func TestSeedErrorNamesPath(t *testing.T) {
	t.Parallel()
	// A regular file where the records folder should be: every write below it fails.
	root := t.TempDir()
	blocker := filepath.Join(root, "records")
	if err := os.WriteFile(blocker, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Seed(root)
	if err == nil {
		t.Fatal("Seed succeeded with a file in place of the records folder")
	}
	if !strings.HasPrefix(err.Error(), "sampledata: ") || !strings.Contains(err.Error(), blocker) {
		t.Errorf("error %q does not name the path %s", err, blocker)
	}
}

func TestFS(t *testing.T) {
	t.Parallel()
	var files []string
	err := fs.WalkDir(FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(seeded), "README.md")
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("FS files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}
}

// component is one entry of kernel["fdo:hasComponent"].
type component struct {
	ID          string `json:"@id"`
	ComponentID string `json:"componentId"`
	MediaType   string `json:"mediaType"`
}

type record struct {
	Context any    `json:"@context"`
	ID      string `json:"@id"`
	Type    string `json:"@type"`
	Kernel  struct {
		ID                string       `json:"@id"`
		DigitalObjectType string       `json:"digitalObjectType"`
		PrimaryIdentifier string       `json:"primaryIdentifier"`
		KernelVersion     string       `json:"kernelVersion"`
		Immutable         *bool        `json:"immutable"`
		Modified          string       `json:"modified"`
		HasComponent      *[]component `json:"fdo:hasComponent"`
	} `json:"kernel"`
	Profile    map[string]any `json:"profile"`
	Provenance map[string]any `json:"provenance"`
}

func TestRecords(t *testing.T) {
	t.Parallel()
	fsys := FS()
	names, err := fs.Glob(fsys, "records/*.json")
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := map[string]string{
		"Q123":     "ScholarlyArticle",
		"Q456":     "Dataset",
		"Q6190920": "Person",
	}
	wantComponents := map[string][]component{
		"Q123": {
			{"#main-pdf", "main-pdf", "application/pdf"},
			{"#source.tex", "source.tex", "application/x-tex"},
		},
		"Q456": {
			{"#data.csv", "data.csv", "text/csv"},
		},
		"Q6190920": nil, // no fdo:hasComponent at all
	}
	if len(names) != len(wantTypes) {
		t.Errorf("records: %v, want %d", names, len(wantTypes))
	}
	listed := map[string]bool{} // component keys that some record lists
	for _, name := range names {
		qid := strings.TrimSuffix(path.Base(name), ".json")
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		var generic map[string]any
		if err := json.Unmarshal(data, &generic); err != nil {
			t.Errorf("%s: not JSON: %v", name, err)
			continue
		}
		var rec record
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Errorf("%s: unexpected shape: %v", name, err)
			continue
		}
		if !bytes.HasPrefix(data, []byte("{\n  \"")) {
			t.Errorf("%s: not pretty-printed with two-space indents", name)
		}
		objURL := "https://fdo.example.org/fdo/" + qid
		if rec.ID != objURL || rec.Kernel.ID != objURL {
			t.Errorf("%s: @id %q, kernel @id %q, want %q", name, rec.ID, rec.Kernel.ID, objURL)
		}
		if rec.Type != "DigitalObject" || rec.Context == nil {
			t.Errorf("%s: @type %q, @context %v", name, rec.Type, rec.Context)
		}
		if want := typeURL + wantTypes[qid]; rec.Kernel.DigitalObjectType != want {
			t.Errorf("%s: kernel.digitalObjectType %q, want %q", name, rec.Kernel.DigitalObjectType, want)
		}
		if rec.Kernel.PrimaryIdentifier != "mardi:"+qid || rec.Kernel.KernelVersion == "" ||
			rec.Kernel.Immutable == nil || rec.Kernel.Modified == "" {
			t.Errorf("%s: incomplete kernel %+v", name, rec.Kernel)
		}
		if rec.Profile["@type"] != wantTypes[qid] || rec.Profile["name"] == nil || rec.Provenance == nil {
			t.Errorf("%s: profile %v, provenance %v", name, rec.Profile, rec.Provenance)
		}

		want := wantComponents[qid]
		if want == nil {
			if _, ok := generic["kernel"].(map[string]any)["fdo:hasComponent"]; ok {
				t.Errorf("%s: has fdo:hasComponent, want none", name)
			}
			continue
		}
		if rec.Kernel.HasComponent == nil {
			t.Errorf("%s: no fdo:hasComponent", name)
			continue
		}
		if got := *rec.Kernel.HasComponent; !slices.Equal(got, want) {
			t.Errorf("%s: components %+v, want %+v", name, got, want)
		}
		for _, c := range *rec.Kernel.HasComponent {
			key := "main/" + shard(t, qid) + "/components/" + c.ComponentID
			listed[key] = true
			fi, err := fs.Stat(fsys, key)
			if err != nil {
				t.Errorf("%s: component %s: %v", name, c.ComponentID, err)
				continue
			}
			if !fi.Mode().IsRegular() || fi.Size() == 0 {
				t.Errorf("%s: component %s at %s: mode %v, %d bytes", name, c.ComponentID, key, fi.Mode(), fi.Size())
			}
		}
	}
	// And no component bytes that no record lists.
	for _, name := range seeded {
		if strings.HasPrefix(name, "main/") && !listed[name] {
			t.Errorf("%s is in storage but listed by no record", name)
		}
	}
}

func TestPDF(t *testing.T) {
	t.Parallel()
	data, err := fs.ReadFile(FS(), pdfKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		t.Errorf("main-pdf starts with %q, want %%PDF-", data[:min(len(data), 8)])
	}
	if len(data) >= maxPDF {
		t.Errorf("main-pdf is %d bytes, want < %d", len(data), maxPDF)
	}
	if !bytes.Contains(data[max(0, len(data)-64):], []byte("%%EOF")) {
		t.Errorf("main-pdf does not end with %s", "%EOF")
	}
	// Reproducible build: make-samples.sh omits the creation date.
	if bytes.Contains(data, []byte("/CreationDate")) {
		t.Error("main-pdf has a /CreationDate; regenerate it with src/make-samples.sh")
	}
}

func TestTeXSource(t *testing.T) {
	t.Parallel()
	data, err := fs.ReadFile(FS(), texKey)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join("src", "paper.tex"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, src) {
		t.Error("source.tex differs from src/paper.tex; run src/make-samples.sh")
	}
	tex := string(data)
	for _, want := range []string{
		`\documentclass`,
		`\usepackage{amsmath}`,
		`\begin{equation}`,
		`\begin{align}`,
		`\[`,
		`\begin{cases}`,
		`\begin{pmatrix}`,
		`\begin{gather}`,
		`\label{eq:`,
		`\eqref{eq:em}`,
		`\end{document}`,
	} {
		if !strings.Contains(tex, want) {
			t.Errorf("source.tex lacks %s", want)
		}
	}
	// Ten display equations: nine numbered and one unnumbered (see objects/README.md).
	if got := strings.Count(tex, `\label{eq:`); got != 9 {
		t.Errorf("source.tex has %d equation labels, want 9", got)
	}
}

func TestCSV(t *testing.T) {
	t.Parallel()
	data, err := fs.ReadFile(FS(), csvKey)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("data.csv: %v", err)
	}
	header := []string{"n", "h", "trapezoid", "trapezoid_error", "scaled_trapezoid_error",
		"richardson", "richardson_error", "scaled_richardson_error"}
	if len(rows) == 0 || !slices.Equal(rows[0], header) {
		t.Fatalf("data.csv header %v, want %v", rows[:min(len(rows), 1)], header)
	}
	if len(rows) != 51 {
		t.Errorf("data.csv has %d data rows, want 50", len(rows)-1)
	}
	for i, row := range rows[1:] {
		n, err := strconv.Atoi(row[0])
		if err != nil || n != i+1 {
			t.Errorf("row %d: n = %q, want %d", i+1, row[0], i+1)
		}
		for j, cell := range row[1:] {
			if _, err := strconv.ParseFloat(cell, 64); err != nil {
				t.Errorf("row %d, column %s: %v", i+1, header[j+1], err)
			}
		}
	}
}

// The type records have the façade's shape, one per type the façade knows, and every
// sample record's digitalObjectType has one.
func TestTypeRecords(t *testing.T) {
	t.Parallel()
	fsys := FS()
	names, err := fs.Glob(fsys, "records/types/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 7 {
		t.Errorf("type records: %v, want the seven types of the façade", names)
	}
	for _, name := range names {
		id := strings.TrimSuffix(path.Base(name), ".json")
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID     string `json:"@id"`
			Type   string `json:"@type"`
			Kernel struct {
				ID                string `json:"@id"`
				PrimaryIdentifier string `json:"primaryIdentifier"`
			} `json:"kernel"`
			Label      string                    `json:"label"`
			Ops        []string                  `json:"applicableOperations"`
			Properties map[string]map[string]any `json:"propertyMappings"`
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if rec.ID != typeURL+id || rec.Kernel.ID != rec.ID || rec.Type != "DigitalObjectType" ||
			rec.Kernel.PrimaryIdentifier != "mardi:types/"+id || rec.Label == "" || len(rec.Properties) == 0 {
			t.Errorf("%s: unexpected shape: %+v", name, rec)
		}
		if !slices.Contains(rec.Ops, "0.DOIP/Op.Retrieve") || slices.Contains(rec.Ops, "0.MaRDI/Op.Invoke") != (id == "ScholarlyArticle") {
			t.Errorf("%s: applicableOperations %v", name, rec.Ops)
		}
	}
	for _, qid := range []string{"Q123", "Q456", "Q6190920"} {
		data, err := fs.ReadFile(fsys, "records/"+qid+".json")
		if err != nil {
			t.Fatal(err)
		}
		var rec record
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		typ := strings.TrimPrefix(rec.Kernel.DigitalObjectType, typeURL)
		if _, err := fs.Stat(fsys, "records/types/"+typ+".json"); err != nil {
			t.Errorf("%s: no type record for %s: %v", qid, rec.Kernel.DigitalObjectType, err)
		}
	}
}
