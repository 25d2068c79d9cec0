package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/query"
	"github.com/tally-dev/tally/emulator/txn"
)

// PartitionQuery splits a collection group query into partitions by returning the document
// names between them as cursors, one page at a time. Every page of one request is computed at
// the same read time, which its page token carries, so the pages fit together.
func (s *Server) PartitionQuery(ctx context.Context, req *pb.PartitionQueryRequest) (*pb.PartitionQueryResponse, error) {
	resp, err := s.partitionQuery(ctx, req)
	return resp, toStatus(ctx, s.log, err)
}

func (s *Server) partitionQuery(ctx context.Context, req *pb.PartitionQueryRequest) (*pb.PartitionQueryResponse, error) {
	db, parent, err := parseQueryParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	if len(parent) != 0 {
		return nil, invalid("parent", "must be the database's documents root, "+db.DocumentsRoot()+": document names are not supported")
	}
	if req.GetPartitionCount() <= 0 {
		return nil, invalid("partition_count", fmt.Sprintf("must be positive, got %d", req.GetPartitionCount()))
	}
	if req.GetPageSize() < 0 {
		return nil, invalid("page_size", fmt.Sprintf("must not be negative, got %d", req.GetPageSize()))
	}
	sq := req.GetStructuredQuery()
	if sq == nil {
		return nil, invalid("structured_query", "must be set")
	}
	p, err := query.CompilePartition(db, sq)
	if err != nil {
		return nil, err
	}
	var sel txn.Selector
	if rt, ok := req.GetConsistencySelector().(*pb.PartitionQueryRequest_ReadTime); ok {
		if sel.ReadTime, err = readTimeOf("read_time", rt.ReadTime); err != nil {
			return nil, err
		}
	}
	var skip int64
	if tok := req.GetPageToken(); tok != "" {
		var readTime int64
		if readTime, skip, err = decodePartitionToken(tok); err != nil {
			return nil, err
		}
		if sel.ReadTime != 0 && sel.ReadTime != readTime {
			return nil, invalid("page_token", "was returned for another read_time")
		}
		sel.ReadTime = readTime
	}
	snap, err := s.engine.OpenSnapshot(ctx, db, sel)
	if err != nil {
		return nil, err
	}
	points, err := p.Points(ctx, snap, req.GetPartitionCount())
	if err != nil {
		return nil, err
	}
	if skip > int64(len(points)) {
		return nil, invalid("page_token", "does not belong to this query")
	}
	points = points[skip:]
	resp := &pb.PartitionQueryResponse{}
	if size := int64(req.GetPageSize()); size > 0 && int64(len(points)) > size {
		points = points[:size]
		resp.NextPageToken = encodePartitionToken(snap.ReadTime(), skip+size)
	}
	for _, path := range points {
		resp.Partitions = append(resp.Partitions, &pb.Cursor{Values: []*pb.Value{
			{ValueType: &pb.Value_ReferenceValue{ReferenceValue: db.DocumentName(path)}},
		}})
	}
	return resp, nil
}

// A partition page token is "<read time µs>/<cursors already returned>", opaque to clients.
func encodePartitionToken(readTime, returned int64) string {
	return encodePageToken(strconv.FormatInt(readTime, 10) + "/" + strconv.FormatInt(returned, 10))
}

func decodePartitionToken(tok string) (readTime, returned int64, err error) {
	s, err := decodePageToken(tok)
	if err != nil {
		return 0, 0, err
	}
	rt, n, ok := strings.Cut(s, "/")
	readTime, err1 := strconv.ParseInt(rt, 10, 64)
	returned, err2 := strconv.ParseInt(n, 10, 64)
	if !ok || err1 != nil || err2 != nil || readTime < 0 || returned < 0 {
		return 0, 0, invalid("page_token", fmt.Sprintf("%q is not a page token returned by PartitionQuery", tok))
	}
	return readTime, returned, nil
}
