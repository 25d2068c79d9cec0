package server

import (
	"fmt"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/txn"
	"github.com/tally-dev/tally/emulator/value"
)

// Production's limits.
const (
	maxRequestBytes       = 10 << 20 // a request (e.g. a Commit) may carry at most 10 MiB
	maxTransformsPerWrite = 500      // field transforms per document per commit
)

func indexed(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// checkRequestSize rejects requests above production's 10 MiB limit. The gRPC server accepts
// larger messages so that the answer is this INVALID_ARGUMENT and never RESOURCE_EXHAUSTED, which
// the client would retry.
func checkRequestSize(req proto.Message) error {
	if n := proto.Size(req); n > maxRequestBytes {
		return invalid("request", fmt.Sprintf("is %d bytes, larger than the limit of %d bytes", n, maxRequestBytes))
	}
	return nil
}

// parseDatabase parses the database field of a request.
func parseDatabase(field, name string) (resource.Database, error) {
	db, err := resource.ParseDatabase(name)
	if err != nil {
		return resource.Database{}, invalid(field, err.Error())
	}
	return db, nil
}

// parseDocumentIn parses a document name that must belong to db.
func parseDocumentIn(db resource.Database, field, name string) ([]string, error) {
	d, path, err := resource.ParseDocumentName(name)
	if err != nil {
		return nil, invalid(field, err.Error())
	}
	if d != db {
		return nil, invalid(field, fmt.Sprintf("document %q is not in database %q", name, db.Name()))
	}
	return path, nil
}

// writeOf validates a pb.Write and converts it for the engine.
func writeOf(db resource.Database, field string, w *pb.Write) (txn.Write, error) {
	var out txn.Write
	switch op := w.GetOperation().(type) {
	case *pb.Write_Update:
		path, err := parseDocumentIn(db, field+".update.name", op.Update.GetName())
		if err != nil {
			return out, err
		}
		out.Path = path
		if err := checkFields(field+".update.fields", op.Update.GetFields()); err != nil {
			return out, err
		}
		out.Fields = op.Update.GetFields()
		if w.UpdateMask != nil {
			out.HasMask = true
			if out.Mask, err = maskOf(field+".update_mask", w.UpdateMask); err != nil {
				return out, err
			}
		}
		if out.Transforms, err = transformsOf(field+".update_transforms", w.GetUpdateTransforms(), out.Mask); err != nil {
			return out, err
		}
	case *pb.Write_Delete:
		path, err := parseDocumentIn(db, field+".delete", op.Delete)
		if err != nil {
			return out, err
		}
		out.Path, out.Delete = path, true
		if w.UpdateMask != nil || len(w.GetUpdateTransforms()) > 0 {
			return out, invalid(field, "a delete cannot have an update_mask or update_transforms")
		}
	case *pb.Write_Transform:
		path, err := parseDocumentIn(db, field+".transform.document", op.Transform.GetDocument())
		if err != nil {
			return out, err
		}
		// A bare transform touches only the transformed fields, like an update with an empty mask.
		out.Path, out.HasMask = path, true
		if w.UpdateMask != nil || len(w.GetUpdateTransforms()) > 0 {
			return out, invalid(field, "a transform write cannot have an update_mask or update_transforms")
		}
		if out.Transforms, err = transformsOf(field+".transform.field_transforms", op.Transform.GetFieldTransforms(), nil); err != nil {
			return out, err
		}
	default:
		return out, invalid(field+".operation", "one of update, delete or transform must be set")
	}
	return out, preconditionOf(field+".current_document", w.GetCurrentDocument(), &out)
}

// checkFields validates client-supplied fields and truncates their timestamps to microseconds.
func checkFields(field string, fields map[string]*pb.Value) error {
	if err := value.ValidateFields(fields); err != nil {
		return invalid(field, err.Error())
	}
	value.TruncateTimestamps(fields)
	return nil
}

// transformsOf validates field transforms: at most 500, each path valid and transformed once, and
// none overlapping a masked field.
func transformsOf(field string, in []*pb.DocumentTransform_FieldTransform, mask []value.FieldPath) ([]txn.FieldTransform, error) {
	if len(in) > maxTransformsPerWrite {
		return nil, invalid(field, fmt.Sprintf("has %d transforms, more than the limit of %d per document", len(in), maxTransformsPerWrite))
	}
	out := make([]txn.FieldTransform, 0, len(in))
	for i, t := range in {
		f := indexed(field, i)
		p, err := value.ParseFieldPath(t.GetFieldPath())
		if err != nil {
			return nil, invalid(f+".field_path", err.Error())
		}
		if t.GetTransformType() == nil {
			return nil, invalid(f, "a transform type must be set")
		}
		for _, other := range out {
			if other.Path.IsPrefixOf(p) || p.IsPrefixOf(other.Path) {
				return nil, invalid(f+".field_path", fmt.Sprintf("field %s is transformed more than once (overlaps %s)", p, other.Path))
			}
		}
		for _, m := range mask {
			if m.IsPrefixOf(p) || p.IsPrefixOf(m) {
				return nil, invalid(f+".field_path", fmt.Sprintf("field %s is both in the update mask and transformed", p))
			}
		}
		if err := checkTransformOperand(t); err != nil {
			return nil, invalid(f, err.Error())
		}
		out = append(out, txn.FieldTransform{Path: p, Transform: t})
	}
	return out, nil
}

func checkTransformOperand(t *pb.DocumentTransform_FieldTransform) error {
	var operand *pb.Value
	numeric := false
	switch tt := t.GetTransformType().(type) {
	case *pb.DocumentTransform_FieldTransform_SetToServerValue:
		if tt.SetToServerValue != pb.DocumentTransform_FieldTransform_REQUEST_TIME {
			return fmt.Errorf("set_to_server_value must be REQUEST_TIME, not %v", tt.SetToServerValue)
		}
		return nil
	case *pb.DocumentTransform_FieldTransform_Increment:
		operand, numeric = tt.Increment, true
	case *pb.DocumentTransform_FieldTransform_Maximum:
		operand, numeric = tt.Maximum, true
	case *pb.DocumentTransform_FieldTransform_Minimum:
		operand, numeric = tt.Minimum, true
	case *pb.DocumentTransform_FieldTransform_AppendMissingElements:
		operand = &pb.Value{ValueType: &pb.Value_ArrayValue{ArrayValue: tt.AppendMissingElements}}
	case *pb.DocumentTransform_FieldTransform_RemoveAllFromArray:
		operand = &pb.Value{ValueType: &pb.Value_ArrayValue{ArrayValue: tt.RemoveAllFromArray}}
	default:
		return nil
	}
	if operand == nil {
		return fmt.Errorf("the transform's operand must be set")
	}
	if numeric && !value.IsNumber(operand) {
		return fmt.Errorf("increment, maximum and minimum need an integer or double operand")
	}
	return value.ValidateValue(operand)
}

func preconditionOf(field string, p *pb.Precondition, out *txn.Write) error {
	switch c := p.GetConditionType().(type) {
	case nil:
	case *pb.Precondition_Exists:
		exists := c.Exists
		out.Exists = &exists
	case *pb.Precondition_UpdateTime:
		if err := c.UpdateTime.CheckValid(); err != nil {
			return invalid(field+".update_time", err.Error())
		}
		us, exact := microsOf(c.UpdateTime)
		if us <= 0 {
			return invalid(field+".update_time", "must be after the Unix epoch")
		}
		if !exact {
			// No stored time has sub-microsecond digits, so this precondition can never hold.
			us = -1
		}
		out.UpdateTime = us
	}
	return nil
}

// writesOf converts all writes of a request.
func writesOf(db resource.Database, field string, in []*pb.Write) ([]txn.Write, error) {
	out := make([]txn.Write, len(in))
	for i, w := range in {
		var err error
		if out[i], err = writeOf(db, indexed(field, i), w); err != nil {
			return nil, err
		}
	}
	return out, nil
}
