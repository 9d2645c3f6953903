package influx

import (
	"fmt"
	"strings"
	"testing"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/stretchr/testify/require"
)

func TestReasonOf(t *testing.T) {
	many := `{"error":"partial write of line protocol occurred","data":[`
	for i := range 100 {
		if i > 0 {
			many += ","
		}
		many += fmt.Sprintf(`{"error_message":"invalid column type for column 'v%d', expected iox::column_type::field::float, got iox::column_type::field::string","line_number":%d,"original_line":"m v=\"x\" 1"}`, i, i+1)
	}
	many += `]}`
	tests := []struct {
		name     string
		herr     *http2.Error
		body     string
		want     string // the whole reason, or a prefix when wantMore
		wantMore bool
	}{
		{"2.x code and message: the library's text", &http2.Error{StatusCode: 400, Code: "invalid", Message: "unable to parse"},
			`{"code":"invalid","message":"unable to parse"}`, "invalid: unable to parse", false},
		{"3.x partial write, two lines", &http2.Error{StatusCode: 400, Code: "400 Bad Request"},
			`{"error":"partial write of line protocol occurred","data":[{"error_message":"a","line_number":2,"original_line":"x"},{"error_message":"b","line_number":5,"original_line":"y"}]}`,
			"partial write of line protocol occurred: line 2: a; line 5: b", false},
		{"3.x accept_partial=false: one object", &http2.Error{StatusCode: 400, Code: "400 Bad Request"},
			`{"error":"parsing failed for write_lp endpoint","data":{"error_message":"No fields were provided","line_number":1,"original_line":"m"}}`,
			"parsing failed for write_lp endpoint: line 1: No fields were provided", false},
		{"an error without data", &http2.Error{StatusCode: 400, Code: "400 Bad Request"},
			`{"error":"error validating database name: invalid character"}`, "error validating database name: invalid character", false},
		{"not JSON: the text", &http2.Error{StatusCode: 400, Code: "400 Bad Request"}, "  bad request body \n", "bad request body", false},
		{"no body: the library's text", &http2.Error{StatusCode: 400, Code: "400 Bad Request"}, "", "Unexpected status code 400", false},
		{"empty JSON: the library's text", &http2.Error{StatusCode: 400, Code: "400 Bad Request"}, `{}`, "Unexpected status code 400", false},
		{"100 refused lines: bounded", &http2.Error{StatusCode: 400, Code: "400 Bad Request"}, many,
			"partial write of line protocol occurred: line 1: invalid column type for column 'v0'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reasonOf(tt.herr, []byte(tt.body))
			if !tt.wantMore {
				require.Equal(t, tt.want, got)
				return
			}
			require.True(t, strings.HasPrefix(got, tt.want), got)
			require.Contains(t, got, "more")
			require.LessOrEqual(t, len(got), maxReason+300)
		})
	}
}
