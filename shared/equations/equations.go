// Package equations is the one definition of equations.json, the derived component that the
// equation_extraction workflow stores: invoke-svc writes it, retrieve-svc's search index and
// the gateway's object pages read it.
package equations

// Workflow is the name of the workflow that derives the document.
const Workflow = "equation_extraction"

// Component is the id clients retrieve the latest document by.
const Component = "equations.json"

// DerivedPath is where the latest document is stored below an object's components folder.
const DerivedPath = "derived/" + Workflow + "/" + Component

// SchemaVersion is the version of the format.
const SchemaVersion = 1

// Document is equations.json. It has no timestamps: the same inputs give the same bytes, so
// a retry on another worker writes what the first would have.
type Document struct {
	SchemaVersion   int    `json:"schemaVersion"`
	Workflow        string `json:"workflow"`
	SourceObject    string `json:"sourceObject"`
	SourceComponent string `json:"sourceComponent"`
	SourceMediaType string `json:"sourceMediaType"`
	SourceSHA256    string `json:"sourceSha256"`
	CacheKey        string `json:"cacheKey,omitempty"`
	// Method says how the equations were found ("latex", "pdf", …); Backend what refined
	// them ("builtin", or a model).
	Method         string     `json:"method"`
	Backend        string     `json:"backend"`
	Note           string     `json:"note,omitempty"`
	Pages          int        `json:"pages,omitempty"`
	UncertainPages []int      `json:"uncertainPages,omitempty"`
	Count          int        `json:"count"`
	Equations      []Equation `json:"equations"`
}

// Equation is one display equation.
type Equation struct {
	Page   int    `json:"page,omitempty"`   // 1-based; PDF path only (0 when unknown)
	Number string `json:"number,omitempty"` // as printed, without parentheses: "3", "2.2a", "A.1", "*"
	Label  string `json:"label,omitempty"`  // \label{...} (LaTeX path)
	LaTeX  string `json:"latex,omitempty"`  // the body, whitespace-normalised (LaTeX path), or reconstructed from the glyphs (PDF path)
	Text   string `json:"text,omitempty"`   // the text as extracted (PDF path)
	// Confidence (PDF path) is how far the reconstructed LaTeX can be trusted, from 0 to 1:
	// lowered for every glyph without a mapping and every construct that was not understood.
	Confidence float64 `json:"confidence,omitempty"`
	// Notes (PDF path) name what the reconstruction did not understand.
	Notes []string    `json:"notes,omitempty"`
	Env   string      `json:"environment,omitempty"` // LaTeX environment ("equation", "align*", "displaymath" for \[..\], "$$")
	File  string      `json:"file,omitempty"`        // source file inside an archive (archive path only)
	Line  int         `json:"line,omitempty"`        // 1-based source line (LaTeX path)
	BBox  *[4]float64 `json:"bbox,omitempty"`        // x0,y0,x1,y1 in PDF points, origin bottom left (PDF path)
}

// Numbered reports whether the equation carries a printed number or tag.
func (e Equation) Numbered() bool { return e.Number != "" }
