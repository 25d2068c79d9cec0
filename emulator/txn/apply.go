package txn

import (
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/emulator/resource"
	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// Write is one validated write of a Commit or BatchWrite. The gRPC surface builds it from a
// pb.Write after checking names, field paths and values.
type Write struct {
	Path   []string
	Delete bool
	// Fields is the update's document content. Without a mask it replaces the whole document.
	// The engine takes ownership: it may store these values and change the map.
	Fields map[string]*pb.Value
	// HasMask says Mask applies: only the masked paths change (set from Fields, or deleted when
	// absent from Fields). A present but empty mask with transforms touches only transformed fields.
	HasMask    bool
	Mask       []value.FieldPath
	Transforms []FieldTransform
	Exists     *bool // precondition: the document must (not) exist
	UpdateTime int64 // precondition: the document's update time must equal this (µs); 0 = none
}

// FieldTransform is one server-side transform of a field.
type FieldTransform struct {
	Path      value.FieldPath
	Transform *pb.DocumentTransform_FieldTransform
}

// WriteResult is the outcome of one write.
type WriteResult struct {
	// UpdateTime is the document's update time after the write: the commit time, or the previous
	// update time when the write changed nothing. 0 for deletes, as production leaves it unset.
	UpdateTime       int64
	TransformResults []*pb.Value
	// Document is the document as this write left it; nil when it does not exist.
	Document *storage.Version
}

// applyWrite computes the document that results from w on top of cur (nil or a tombstone when the
// document does not exist). next is nil when the document ends up absent; changed says whether
// storage must record a new version.
func applyWrite(db resource.Database, w *Write, cur *storage.Version, commitTime int64) (next *storage.Version, changed bool, res WriteResult, err error) {
	exists := cur != nil && !cur.Deleted
	name := func() string { return db.DocumentName(w.Path) } // only error messages need it
	if err := checkPrecondition(w, cur, exists, name); err != nil {
		return nil, false, WriteResult{}, err
	}
	if w.Delete {
		if !exists {
			return nil, false, WriteResult{}, nil
		}
		return &storage.Version{Path: w.Path, UpdateTime: commitTime, CreateTime: cur.CreateTime, Deleted: true}, true, WriteResult{}, nil
	}

	var fields map[string]*pb.Value
	switch {
	case !w.HasMask:
		// The write owns its fields (see Write.Fields) and nothing else refers to them.
		fields = w.Fields
		if fields == nil {
			fields = map[string]*pb.Value{}
		}
	case exists:
		fields = value.CloneFields(cur.Fields)
	default:
		fields = map[string]*pb.Value{}
	}
	if w.HasMask {
		for _, p := range w.Mask {
			if v, ok := value.GetField(w.Fields, p); ok {
				value.SetField(fields, p, proto.Clone(v).(*pb.Value))
			} else {
				value.DeleteField(fields, p)
			}
		}
	}
	requestTime := timestamppb.New(time.UnixMicro(commitTime))
	for _, ft := range w.Transforms {
		current, _ := value.GetField(fields, ft.Path)
		newValue, result, terr := value.ApplyTransform(current, ft.Transform, requestTime)
		if terr != nil {
			return nil, false, WriteResult{}, errorf(KindInvalidArgument, "transform of field %s in %s: %v", ft.Path, name(), terr)
		}
		value.SetField(fields, ft.Path, newValue)
		res.TransformResults = append(res.TransformResults, result)
	}
	if size := value.DocumentSize(w.Path, fields); size > value.MaxDocumentSize {
		return nil, false, WriteResult{}, errorf(KindInvalidArgument,
			"document %s would be %d bytes, larger than the limit of %d bytes", name(), size, value.MaxDocumentSize)
	}
	if exists && value.FieldsEqual(cur.Fields, fields) {
		res.UpdateTime, res.Document = cur.UpdateTime, cur
		return cur, false, res, nil
	}
	createTime := commitTime
	if exists {
		createTime = cur.CreateTime
	}
	next = &storage.Version{Path: w.Path, CreateTime: createTime, UpdateTime: commitTime, Fields: fields}
	res.UpdateTime, res.Document = commitTime, next
	return next, true, res, nil
}

func checkPrecondition(w *Write, cur *storage.Version, exists bool, name func() string) error {
	if w.Exists != nil {
		switch {
		case *w.Exists && !exists:
			return errorf(KindNotFound, "no document to update: %s", name())
		case !*w.Exists && exists:
			return errorf(KindAlreadyExists, "document already exists: %s", name())
		}
	}
	if w.UpdateTime != 0 {
		if !exists {
			return errorf(KindNotFound, "no document to update: %s", name())
		}
		if cur.UpdateTime != w.UpdateTime {
			return errorf(KindFailedPrecondition,
				"the document %s was last updated at %s, not at %s as the precondition requires",
				name(), formatMicros(cur.UpdateTime), formatMicros(w.UpdateTime))
		}
	}
	return nil
}
