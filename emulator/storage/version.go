package storage

import pb "cloud.google.com/go/firestore/apiv1/firestorepb"

// Version is one state of a document: live (fields and times) or a tombstone recording when it was
// deleted. Times are microseconds since the Unix epoch.
type Version struct {
	Path       []string // document path segments: collection, id, collection, id, ...
	CreateTime int64
	UpdateTime int64 // the commit time at which this version became current; for a tombstone, the delete time
	Deleted    bool
	Fields     map[string]*pb.Value // nil for a tombstone
}
