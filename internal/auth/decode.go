package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// file and filePrincipal are the policy file as written. The struct tags document the names;
// decodeFile checks them itself, because encoding/json matches names without regard to case and
// lets a repeated name overwrite the first, and a policy file should mean exactly what it says.
type file struct {
	Principals []filePrincipal `json:"principals"`
}

type filePrincipal struct {
	ID           string   `json:"id"`
	TokenSHA256  string   `json:"token_sha256"`
	CertIdentity string   `json:"cert_identity"`
	Prefixes     []string `json:"prefixes"`
	Permissions  []string `json:"permissions"`
}

var (
	fileFields      = []string{"principals"}
	principalFields = []string{"id", "token_sha256", "cert_identity", "prefixes", "permissions"}
)

// decodeFile decodes a policy file strictly: one JSON object, with exactly the field names of the
// format (case included), each at most once, and nothing after it.
func decodeFile(data []byte) (*file, error) {
	if !utf8.Valid(data) {
		// encoding/json would quietly turn the invalid bytes into U+FFFD.
		return nil, errors.New("the file: is not valid UTF-8")
	}
	top, err := strictObject(data, "the file", fileFields)
	if err != nil {
		return nil, err
	}
	raw, ok := top["principals"]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, errors.New(`principals: is required (an empty list refuses every token and certificate)`)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("principals: is not a list of objects: %w", err)
	}
	f := &file{Principals: make([]filePrincipal, len(list))}
	for i, r := range list {
		fields, err := strictObject(r, fmt.Sprintf("principals[%d]", i), principalFields)
		if err != nil {
			return nil, err
		}
		fp := &f.Principals[i]
		// The id first, so that errors about the other fields can name the principal.
		if err := decodeField(fields, "id", &fp.ID); err != nil {
			return nil, fmt.Errorf("principals[%d]: %w", i, err)
		}
		for _, fd := range []struct {
			name string
			v    any
		}{
			{"token_sha256", &fp.TokenSHA256},
			{"cert_identity", &fp.CertIdentity},
			{"prefixes", &fp.Prefixes},
			{"permissions", &fp.Permissions},
		} {
			if err := decodeField(fields, fd.name, fd.v); err != nil {
				return nil, fmt.Errorf("%s: %w", principalLabel(i, fp.ID), err)
			}
		}
	}
	return f, nil
}

// decodeField decodes fields[name], if present, into v.
func decodeField(fields map[string]json.RawMessage, name string, v any) error {
	raw, ok := fields[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: is a JSON %s, want %s", name, te.Value, jsonKind(v))
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func jsonKind(v any) string {
	if _, ok := v.(*string); ok {
		return "a string"
	}
	return "a list of strings"
}

// strictObject splits one JSON object into its fields, refusing a name that is not one of known,
// a name given twice, and anything after the object. what names the object in errors.
func strictObject(data []byte, what string, known []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: is not valid JSON: %w", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s: is not a JSON object", what)
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: is not valid JSON: %w", what, err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: is not valid JSON: a field name is not a string", what)
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("%s: unknown field %q; the fields are %s", what, name, strings.Join(known, ", "))
		}
		if _, dup := fields[name]; dup {
			return nil, fmt.Errorf("%s: field %q is given twice", what, name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: %s: is not valid JSON: %w", what, name, err)
		}
		fields[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%s: is not valid JSON: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: has more after its closing brace", what)
	}
	return fields, nil
}
