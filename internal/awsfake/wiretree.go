package awsfake

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The AWS Backup (JSON) and CloudWatch (CBOR) protocols key structures by
// their Smithy member names, which are the Go field names of the SDK types.
// So the fake reads requests into the SDK's own input types and writes
// responses from its output types, through a generic tree of map[string]any,
// []any, string, int64, uint64, float64, bool, []byte and time.Time. Only
// the timestamp encoding differs: epoch seconds in JSON, tag 1 in CBOR.

// toTree converts an SDK value into the generic tree. Nil pointers, nil
// slices and maps, unset enums (empty named strings), unexported fields and
// ResultMetadata are left out; ok is false for a left-out value.
func toTree(v reflect.Value) (_ any, ok bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return toTree(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return t, true
		}
		m := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			if x, ok := toTree(v.Field(i)); ok {
				m[f.Name] = x
			}
		}
		return m, true
	case reflect.Slice:
		if v.IsNil() {
			return nil, false
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes(), true
		}
		l := make([]any, 0, v.Len())
		for i := range v.Len() {
			if x, ok := toTree(v.Index(i)); ok {
				l = append(l, x)
			}
		}
		return l, true
	case reflect.Map:
		if v.IsNil() {
			return nil, false
		}
		m := map[string]any{}
		for it := v.MapRange(); it.Next(); {
			if x, ok := toTree(it.Value()); ok {
				m[it.Key().String()] = x
			}
		}
		return m, true
	case reflect.String:
		if v.Len() == 0 && v.Type() != reflect.TypeFor[string]() {
			return nil, false // unset enum
		}
		return v.String(), true
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return nil, false
}

// jsonTree replaces timestamps with epoch seconds, REST-JSON's default.
func jsonTree(x any) any {
	switch x := x.(type) {
	case time.Time:
		return float64(x.UnixMilli()) / 1e3
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = jsonTree(v)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = jsonTree(v)
		}
		return l
	}
	return x
}

// marshalJSON encodes an SDK output value as an AWS REST-JSON body.
func marshalJSON(v any) ([]byte, error) {
	t, ok := toTree(reflect.ValueOf(v))
	if !ok {
		t = map[string]any{}
	}
	return json.Marshal(jsonTree(t))
}

// toCBOR encodes a tree as CBOR, timestamps as tag 1 epoch seconds.
func toCBOR(x any) cbor.Value {
	switch x := x.(type) {
	case time.Time:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(x.UnixMilli()) / 1e3)}
	case map[string]any:
		m := make(cbor.Map, len(x))
		for k, v := range x {
			m[k] = toCBOR(v)
		}
		return m
	case []any:
		l := make(cbor.List, len(x))
		for i, v := range x {
			l[i] = toCBOR(v)
		}
		return l
	case string:
		return cbor.String(x)
	case bool:
		return cbor.Bool(x)
	case int64:
		if x < 0 {
			return cbor.NegInt(uint64(-1 - x))
		}
		return cbor.Uint(uint64(x))
	case uint64:
		return cbor.Uint(x)
	case float64:
		return cbor.Float64(x)
	case []byte:
		return cbor.Slice(x)
	}
	return &cbor.Nil{}
}

// marshalCBOR encodes an SDK output value as an RPC v2 CBOR body.
func marshalCBOR(v any) []byte {
	t, ok := toTree(reflect.ValueOf(v))
	if !ok {
		t = map[string]any{}
	}
	return cbor.Encode(toCBOR(t))
}

// fromCBOR decodes a CBOR value into the generic tree.
func fromCBOR(v cbor.Value) (any, error) {
	switch v := v.(type) {
	case cbor.Uint:
		return uint64(v), nil
	case cbor.NegInt:
		return -1 - int64(v), nil
	case cbor.Slice:
		return []byte(v), nil
	case cbor.String:
		return string(v), nil
	case cbor.Bool:
		return bool(v), nil
	case cbor.Float32:
		return float64(v), nil
	case cbor.Float64:
		return float64(v), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case cbor.List:
		l := make([]any, len(v))
		for i, e := range v {
			x, err := fromCBOR(e)
			if err != nil {
				return nil, err
			}
			l[i] = x
		}
		return l, nil
	case cbor.Map:
		m := make(map[string]any, len(v))
		for k, e := range v {
			x, err := fromCBOR(e)
			if err != nil {
				return nil, err
			}
			m[k] = x
		}
		return m, nil
	case *cbor.Tag:
		x, err := fromCBOR(v.Value)
		if err != nil || v.ID != 1 {
			return x, err
		}
		switch n := x.(type) {
		case uint64:
			return time.Unix(int64(n), 0).UTC(), nil
		case int64:
			return time.Unix(n, 0).UTC(), nil
		case float64:
			return time.UnixMilli(int64(n * 1e3)).UTC(), nil
		}
		return nil, fmt.Errorf("timestamp tag holds %T", x)
	}
	return nil, fmt.Errorf("unsupported CBOR value %T", v)
}

// unmarshalCBOR decodes an RPC v2 CBOR body into an SDK input value.
func unmarshalCBOR(body []byte, into any) error {
	if len(body) == 0 {
		return nil
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return err
	}
	t, err := fromCBOR(v)
	if err != nil {
		return err
	}
	// The tree has the input's member names, so encoding/json can fill the
	// SDK struct (time.Time round-trips as RFC 3339).
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}
