package fdo

import (
	"errors"
	"reflect"
	"testing"
)

// specRecord is the record shape of the FDO façade contract.
const specRecord = `{
  "@context": ["https://w3id.org/fdo/context/v1",
               {"schema": "https://schema.org/", "prov": "http://www.w3.org/ns/prov#",
                "fdo": "https://w3id.org/fdo/vocabulary/"}],
  "@id": "https://fdo.example.org/fdo/Q123",
  "@type": "DigitalObject",
  "kernel": {
    "@id": "https://fdo.example.org/fdo/Q123",
    "digitalObjectType": "https://fdo.example.org/fdo/types/ScholarlyArticle",
    "primaryIdentifier": "mardi:Q123",
    "kernelVersion": "v1",
    "immutable": true,
    "modified": "2025-11-03T12:34:56Z",
    "fdo:hasComponent": [
      {"@id": "#fulltext.pdf", "componentId": "fulltext.pdf", "mediaType": "application/pdf"},
      {"@id": "#source.tar.gz", "componentId": "source.tar.gz", "mediaType": "application/gzip"}
    ]
  },
  "profile": {
    "@context": "https://schema.org", "@type": "ScholarlyArticle",
    "name": "On the numerical solution of ...", "datePublished": "2023-04-12",
    "identifier": {"@type": "PropertyValue", "propertyID": "doi", "value": "10.1000/xyz"}
  },
  "provenance": {"prov:generatedAtTime": "2025-11-03T12:34:56Z"}
}`

func TestParseRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantType string
		want     []Component
	}{
		{"spec", specRecord, "https://fdo.example.org/fdo/types/ScholarlyArticle", []Component{
			{"fulltext.pdf", "application/pdf"}, {"source.tar.gz", "application/gzip"},
		}},
		{"mimeType and fallback", `{"kernel":{"fdo:hasComponent":[
			{"componentId":"main-pdf","mimeType":"application/pdf"},
			{"componentId":"rocrate"},
			{"componentId":"both","mediaType":"text/plain","mimeType":"application/pdf"}]}}`, "", []Component{
			{"main-pdf", "application/pdf"}, {"rocrate", DefaultMediaType}, {"both", "text/plain"},
		}},
		{"no components", `{"kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Person"}}`,
			"https://fdo.example.org/fdo/types/Person", nil},
		{"null components", `{"kernel":{"fdo:hasComponent":null}}`, "", nil},
		{"empty list", `{"kernel":{"fdo:hasComponent":[]}}`, "", nil},
		{"one bare object", `{"kernel":{"fdo:hasComponent":{"componentId":"a.pdf","mediaType":"application/pdf"}}}`, "",
			[]Component{{"a.pdf", "application/pdf"}}},
		{"@id only", `{"kernel":{"fdo:hasComponent":[{"@id":"#fulltext","mediaType":"application/pdf"},{"mediaType":"x/y"}]}}`, "",
			[]Component{{"fulltext", "application/pdf"}}},
		{"type as node", `{"kernel":{"digitalObjectType":{"@id":"https://fdo.example.org/fdo/types/Dataset"}}}`,
			"https://fdo.example.org/fdo/types/Dataset", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, err := ParseRecord([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if rec.ObjectType != tt.wantType {
				t.Errorf("ObjectType = %q; want %q", rec.ObjectType, tt.wantType)
			}
			if !reflect.DeepEqual(rec.Components, tt.want) {
				t.Errorf("Components = %+v; want %+v", rec.Components, tt.want)
			}
			if string(rec.Raw) != tt.in {
				t.Error("Raw is not the input")
			}
		})
	}
}

func TestParseRecordErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"kernel":[]}`, `{"kernel":{"fdo:hasComponent":"x"}}`,
		`{"kernel":{"fdo:hasComponent":[1]}}`, `{"kernel":{"digitalObjectType":1}}`,
		`{"kernel":{"fdo:hasComponent":[{"componentId":1}]}}`,
	} {
		if _, err := ParseRecord([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRecord(%q) error = %v; want ErrMalformed", in, err)
		}
	}
}

// The façade answers an unknown QID with 200 and a minimal record of its unknown-type
// marker (mardi_fdo_server's to_fdo_minimal); that, and a record without a kernel, name no
// object.
func TestParseRecordNotFound(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"@context":["https://w3id.org/fdo/context/v1",{"schema":"https://schema.org/"}],"@id":"https://portal.mardi4nfdi.de/entity/Q999999999",` +
			`"@type":"mardi:UnknownType","kernel":{"@type":"mardi:UnknownType","name":"Q999999999","description":""},` +
			`"access":{"accessURL":"https://portal.mardi4nfdi.de/entity/Q999999999","mediaType":"application/vnd.mardi.entity+json"},` +
			`"prov:generatedAtTime":"","prov:wasAttributedTo":"MaRDI Knowledge Graph"}`,
		`{"@type":["DigitalObject","mardi:UnknownType"],"kernel":{}}`,
		`{"kernel":{"@type":"mardi:UnknownType"}}`,
		`{"@id":"x"}`,
		`{"@id":"x","kernel":null}`,
	} {
		if _, err := ParseRecord([]byte(in)); !errors.Is(err, ErrNotFound) {
			t.Errorf("ParseRecord(%.60q…) error = %v; want ErrNotFound", in, err)
		}
	}
	// A minimal record of a type the façade does not map (a bare QID as type) is a record.
	if _, err := ParseRecord([]byte(`{"@type":"Q5","kernel":{"@type":"Q5","name":"x"}}`)); err != nil {
		t.Errorf("minimal record of an unmapped type: %v", err)
	}
}

func TestRecordComponent(t *testing.T) {
	t.Parallel()
	rec, err := ParseRecord([]byte(specRecord))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := rec.Component("source.tar.gz"); !ok || c.MediaType != "application/gzip" {
		t.Errorf("Component(source.tar.gz) = %+v, %v", c, ok)
	}
	if _, ok := rec.Component("Fulltext.pdf"); ok {
		t.Error("Component ids are case-sensitive")
	}
}

func TestParseTypeRecord(t *testing.T) {
	t.Parallel()
	for in, wantType := range map[string]string{
		`{"@id":"x","kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/FDOType"},"applicableOperations":[]}`: "https://fdo.example.org/fdo/types/FDOType",
		`{"@context":"https://w3id.org/fdo/context/v1","@type":"FDOType","name":"ScholarlyArticle"}`:                       "", // no kernel: still a type record
		`{"kernel":7}`: "",
	} {
		rec, err := ParseTypeRecord([]byte(in))
		if err != nil || rec.ObjectType != wantType || string(rec.Raw) != in || rec.Components != nil {
			t.Errorf("ParseTypeRecord(%s) = %+v, %v", in, rec, err)
		}
	}
	for _, in := range []string{``, `[]`, `null`, `{`} {
		if _, err := ParseTypeRecord([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseTypeRecord(%q) error = %v; want ErrMalformed", in, err)
		}
	}
}

func FuzzParseTypeRecord(f *testing.F) {
	f.Add([]byte(`{"kernel":{"digitalObjectType":{"@id":"x"}}}`))
	f.Add([]byte(`{"kernel":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := ParseTypeRecord(raw)
		if err == nil && len(rec.Components) != 0 {
			t.Fatal("a type record with components")
		}
	})
}
