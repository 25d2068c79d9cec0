package value

import (
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/genproto/googleapis/type/latlng"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Short constructors for the values the tests are built from.

func nullV() *pb.Value {
	return &pb.Value{ValueType: &pb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}

func boolV(b bool) *pb.Value { return &pb.Value{ValueType: &pb.Value_BooleanValue{BooleanValue: b}} }

func intV(i int64) *pb.Value { return &pb.Value{ValueType: &pb.Value_IntegerValue{IntegerValue: i}} }

func dblV(d float64) *pb.Value { return &pb.Value{ValueType: &pb.Value_DoubleValue{DoubleValue: d}} }

func tsV(secs int64, nanos int32) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_TimestampValue{TimestampValue: &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}}}
}

func strV(s string) *pb.Value { return &pb.Value{ValueType: &pb.Value_StringValue{StringValue: s}} }

func bytesV(b ...byte) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_BytesValue{BytesValue: b}}
}

func refV(path string) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_ReferenceValue{ReferenceValue: "projects/p/databases/d/documents/" + path}}
}

func geoV(lat, lng float64) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_GeoPointValue{GeoPointValue: &latlng.LatLng{Latitude: lat, Longitude: lng}}}
}

func arrV(values ...*pb.Value) *pb.Value { return arrayValue(values) }

func mapV(fields map[string]*pb.Value) *pb.Value {
	return &pb.Value{ValueType: &pb.Value_MapValue{MapValue: &pb.MapValue{Fields: fields}}}
}

func vecV(dims ...float64) *pb.Value {
	values := make([]*pb.Value, len(dims))
	for i, d := range dims {
		values[i] = dblV(d)
	}
	return mapV(map[string]*pb.Value{"__type__": strV("__vector__"), "value": arrV(values...)})
}
