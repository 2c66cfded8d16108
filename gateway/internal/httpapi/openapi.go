package httpapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

// OpenAPIPath is where the OpenAPI description of the HTTP face is served.
const OpenAPIPath = "/openapi.json"

// openAPIDoc is the OpenAPI 3.1 description of every route of [New]; a test checks the two
// against each other.
//
//go:embed openapi.json
var openAPIDoc []byte

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(openAPIDoc)
}
