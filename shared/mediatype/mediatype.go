// Package mediatype is the one table of the media types that components use: the file
// extension of each (for file names and for guessing the type of a derived output), and the
// families a workflow reads (PDF, TeX source, source archive).
package mediatype

import (
	"mime"
	"path"
	"slices"
	"strings"
)

// Default is the media type of bytes whose type nothing says.
const Default = "application/octet-stream"

// PDF is the media type of a PDF.
const PDF = "application/pdf"

// TeX lists the media types of a TeX source.
var TeX = []string{"application/x-tex", "text/x-tex"}

// Archives lists the media types of a source archive. application/x-tar is what the FDO
// façade sends for a .tar.gz or .tgz (Python's mimetypes names the archive, not its
// compression).
var Archives = []string{"application/gzip", "application/x-gzip", "application/x-tar", "application/zip"}

// extensions maps media types to file extensions; [ForName] reads it the other way round,
// the first entry of an extension winning.
var extensions = []struct{ mediaType, ext string }{
	{PDF, ".pdf"},
	{"application/json", ".json"},
	{"application/ld+json", ".json"},
	{"application/zip", ".zip"},
	{"application/gzip", ".gz"},
	{"application/x-gzip", ".gz"},
	{"application/x-tex", ".tex"},
	{"text/x-tex", ".tex"},
	{"application/x-latex", ".tex"},
	{"text/plain", ".txt"},
	{"text/csv", ".csv"},
}

// Extension returns the file extension of mediaType (parameters ignored), or ".bin" for a
// type the table does not know or that does not parse.
func Extension(mediaType string) string {
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return ".bin"
	}
	for _, e := range extensions {
		if e.mediaType == mt {
			return e.ext
		}
	}
	return ".bin"
}

// ForName guesses a media type from a file name's extension, or returns fallback.
func ForName(name, fallback string) string {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range extensions {
		if e.ext == ext && ext != "" {
			return e.mediaType
		}
	}
	return fallback
}

// Family is the kind of source a component is, for a workflow that reads papers.
type Family int

// The families; FamilyNone is anything else.
const (
	FamilyNone Family = iota
	FamilyTeX
	FamilyArchive
	FamilyPDF
)

// FamilyOf says what kind of source a component with this id and media type is, by its
// media type or its name: TeX first, then an archive, then a PDF.
func FamilyOf(id, mediaType string) Family {
	id, mt := strings.ToLower(id), strings.ToLower(mediaType)
	switch {
	case slices.Contains(TeX, mt) || strings.HasSuffix(id, ".tex"):
		return FamilyTeX
	case slices.Contains(Archives, mt) || hasAnySuffix(id, ".tar.gz", ".tgz", ".zip", ".tar"):
		return FamilyArchive
	case mt == PDF || strings.HasSuffix(id, ".pdf"):
		return FamilyPDF
	}
	return FamilyNone
}

// PaperSources lists the media types of every family: a workflow's input types.
func PaperSources() []string {
	return slices.Concat([]string{PDF}, TeX, Archives)
}

func hasAnySuffix(s string, suffixes ...string) bool {
	return slices.ContainsFunc(suffixes, func(x string) bool { return strings.HasSuffix(s, x) })
}
