package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// TestLogRecordRoundTrip fills every field of Execution with a non-zero value and reads
// it back: a field added to Execution but not to the compact record fails here.
func TestLogRecordRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	e := &store.Execution{}
	v := reflect.ValueOf(e).Elem()
	end := logBase.Add(1500 * time.Millisecond)
	for i := range v.NumField() {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		switch f.Interface().(type) {
		case string:
			f.SetString(name + "-value")
		case json.RawMessage:
			f.Set(reflect.ValueOf(json.RawMessage(`{"field":"` + name + `"}`)))
		case time.Time:
			f.Set(reflect.ValueOf(logBase.Add(123456789)))
		case *time.Time:
			f.Set(reflect.ValueOf(&end))
		case uint32:
			f.SetUint(7)
		case int64:
			f.SetInt(1500)
		case float64:
			f.SetFloat(0.25)
		case bool:
			f.SetBool(true)
		default:
			t.Fatalf("field %s of type %s: teach this test and the record encoding (appendBody) about it", name, f.Type())
		}
	}
	e.Status, e.Level = store.StatusCompleted, "info"
	mustPut(t, l, e)
	got, err := l.Get(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(e)
	have, _ := json.Marshal(got)
	if string(want) != string(have) {
		t.Errorf("round trip:\n got %s\nwant %s", have, want)
	}
	page, err := l.List(ctx, store.LogQuery{WorkspaceID: e.WorkspaceID})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list = %+v, %v", page, err)
	}
	if have, _ := json.Marshal(page.Items[0]); string(want) != string(have) {
		t.Errorf("listed:\n got %s\nwant %s", have, want)
	}
}

// TestLogRecordJSONStillReads: records written before the compact body (head + JSON)
// are read as before.
func TestLogRecordJSONStillReads(t *testing.T) {
	ctx := context.Background()
	l, _ := openLogs(t, LogOptions{})
	e := newExec("ws", "wf", logBase, store.StatusCompleted)
	e.Output, e.KeyID = json.RawMessage(`{"ok":true}`), "key1"
	js, _ := json.Marshal(e)
	hb := headOf(e)
	head := hb.appendFull(nil)
	val := append(binary.AppendUvarint(nil, uint64(len(head))), head...)
	val = append(val, js...)
	if err := l.db.Update(func(tx *bbolt.Tx) error {
		return writeExecution(tx, &putReq{id: e.ID, h: hb, data: val})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := l.Get(ctx, e.ID)
	if err != nil || string(got.Output) != `{"ok":true}` || got.KeyID != "key1" || !got.StartedAt.Equal(logBase) {
		t.Fatalf("old record = %+v, %v", got, err)
	}
}

func TestLogRecordRejectsInvalidJSON(t *testing.T) {
	l, _ := openLogs(t, LogOptions{})
	e := newExec("ws", "wf", logBase, store.StatusCompleted)
	e.Output = json.RawMessage(`{"ok":`)
	if err := l.Put(context.Background(), e); err == nil {
		t.Fatal("Put accepted an output that is not JSON")
	}
}
