package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 64 << 10

// decode reads a JSON body strictly into v: one object, no unknown fields,
// no trailing data, at most MaxBody bytes. An empty body decodes as {} when
// emptyOK.
func decode(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newProblem(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Content-Type %q is not JSON; send application/json", ct)
		}
	}
	if r.ContentLength > MaxBody {
		return newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, MaxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the body exceeds the %d-byte limit", MaxBody)
		}
		return newProblem(http.StatusBadRequest, codeMalformedJSON, "the body could not be read: %v", err)
	}
	return decodeJSON(body, v, emptyOK)
}

// decodeJSON is decode's parser, separate so that it can be fuzzed.
func decodeJSON(body []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return newProblem(http.StatusBadRequest, codeMalformedJSON, "the body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return newProblem(http.StatusBadRequest, codeMalformedJSON, "the body holds more than one JSON value; send exactly one object")
	}
	return nil
}

func jsonProblem(err error) *problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return newProblem(http.StatusBadRequest, codeMalformedJSON, "the body is not valid JSON (at byte %d: %v)", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return newProblem(http.StatusBadRequest, codeInvalidType, "the body must be a JSON object, not %s", typ.Value)
		}
		return newProblem(http.StatusBadRequest, codeInvalidType, "field %q must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(http.StatusBadRequest, codeMalformedJSON, "the body ends in the middle of a JSON value")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return newProblem(http.StatusBadRequest, codeUnknownField, "field %s is not part of this request; check the API document (/v1/openapi.json)", name)
	}
	return newProblem(http.StatusBadRequest, codeMalformedJSON, "the body could not be decoded: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "float64":
		return "a number"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return kind
}
