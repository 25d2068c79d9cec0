package main

import (
	"log/slog"
	"reflect"
	"strings"
	"time"
)

// redacted stands for the value of a secret in logs and error messages.
const redacted = "[redacted]"

// logTag reads a Config field's log tag: the key it is logged under, and whether its value is a
// secret ("key,secret").
func logTag(f reflect.StructField) (key string, secret bool) {
	key, opts, _ := strings.Cut(f.Tag.Get("log"), ",")
	return key, opts == "secret"
}

// configAttrs is the effective configuration as log attributes, one per field of the struct v
// points to, under its log tag; a secret's value is replaced by redacted (an unset one stays
// empty, so that the line still tells whether it was given). Going through every field, rather
// than a list, keeps a new field from being left out of the line.
func configAttrs(v any) []any {
	rv := reflect.ValueOf(v).Elem()
	t := rv.Type()
	attrs := make([]any, 0, t.NumField())
	for i := range t.NumField() {
		key, secret := logTag(t.Field(i))
		if key == "" {
			key = t.Field(i).Name
		}
		fv := rv.Field(i)
		var value slog.Value
		switch {
		case secret && fv.IsZero():
			value = slog.StringValue("")
		case secret:
			value = slog.StringValue(redacted)
		default:
			value = slog.AnyValue(fv.Interface())
			if d, ok := fv.Interface().(time.Duration); ok {
				value = slog.StringValue(d.String()) // JSON would show nanoseconds
			}
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: value})
	}
	return attrs
}
