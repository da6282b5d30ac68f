package cati

// Table tests of the sample importer: normalization to E.164 in a default
// region, time zones from a column or from the number, broken rows with
// their line numbers, duplicates, a byte-order mark, quoted multi-line
// fields, and files that are not UTF-8 or not CSV. FuzzParseSample checks
// that no input panics and that every row kept is valid.

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"unicode/utf8"

	"github.com/canvass/canvass/testdata"

	"github.com/google/go-cmp/cmp"
	"github.com/nyaruka/phonenumbers"

	"github.com/canvass/canvass/survey"
)

var testMapping = Mapping{Phone: "phone", TZ: "tz", Fields: map[string]string{"first_name": "name", "region": "region"}}

func TestParseSample(t *testing.T) {
	type row struct {
		Line  int
		Phone string
		TZ    string
		Name  string
	}
	tests := []struct {
		name    string
		csv     string
		mapping Mapping
		rows    []row
		errors  []rowError
		dups    []rowError
		fail    string // whole-file error
	}{
		{
			name: "national numbers in the default region, zones from numbers",
			csv:  "phone,tz,name,region\n(202) 555-0134,,Ann,north\n+44 20 7946 0958,,Ben,south\n206-555-0100,Europe/Paris,Cat,\n",
			rows: []row{{2, "+12025550134", "America/New_York", "Ann"}, {3, "+442079460958", "Europe/London", "Ben"}, {4, "+12065550100", "Europe/Paris", "Cat"}},
		},
		{
			name: "broken rows are reported with their lines and left out",
			csv: "phone,tz,name,region\n" +
				"not a number,,Dan,north\n" + // 2
				"+12025550135,Mars/Olympus,Eve,north\n" + // 3
				"+12025550136,,Fay\n" + // 4: a field short
				",,Gus,north\n" + // 5
				"+1 202 555 0137,,\"Hal \"\"the\"\" Second\",east\n" + // 6: fine
				"+12025550138,,\"Ivy\nMulti\",west\n" + // 7-8: quoted newline, fine
				"+1202555013,,Jon,north\n", // 9: too short
			rows: []row{{6, "+12025550137", "America/New_York", `Hal "the" Second`}, {7, "+12025550138", "America/New_York", "Ivy\nMulti"}},
			errors: []rowError{
				{2, `"not a number" is not a valid phone number (numbers without +country are read as US numbers)`},
				{3, `"Mars/Olympus" is not a time zone (use IANA names such as America/New_York)`},
				{4, "has 3 fields; the header has 4"},
				{5, "the phone number is empty"},
				{9, `"+1202555013" is not a valid phone number (numbers without +country are read as US numbers)`},
			},
		},
		{
			name: "duplicates in the file, however written",
			csv:  "phone,tz,name,region\n+12025550140,,A,\n(202) 555-0140,,B,\n202.555.0141,,C,\n+1 202 555 0141,,D,\n",
			rows: []row{{2, "+12025550140", "America/New_York", "A"}, {4, "+12025550141", "America/New_York", "C"}},
			dups: []rowError{{3, "+12025550140 is also on line 2"}, {5, "+12025550141 is also on line 4"}},
		},
		{
			name: "byte-order mark and column names in any case",
			csv:  "\xef\xbb\xbfPHONE, Tz ,Name,Region\n+12025550150,,Kim,north\n",
			rows: []row{{2, "+12025550150", "America/New_York", "Kim"}},
		},
		{
			name:   "a bare quote is a broken row, the rest goes on",
			csv:    "phone,tz,name,region\n+12025550160,,Li\"z,north\n+12025550161,,Max,north\n",
			rows:   []row{{3, "+12025550161", "America/New_York", "Max"}},
			errors: []rowError{{2, `not valid CSV: bare " in non-quoted-field`}},
		},
		{
			name:   "a toll-free number has no zone",
			csv:    "phone,tz,name,region\n1-800-555-0199,,Ola,\n",
			errors: []rowError{{2, "the time zone of +18005550199 cannot be told from the number; add a time zone column"}},
		},
		{name: "Latin-1, not UTF-8", csv: "phone,tz,name,region\n+12025550170,,Jos\xe9,north\n", fail: "line 2 is not UTF-8 text"},
		{name: "empty file", csv: "", fail: "the file is empty"},
		{name: "header only", csv: "phone,tz,name,region\n", fail: "has a header but no rows"},
		{name: "mapped column missing", csv: "tel,name\n+12025550180,Pat\n", mapping: Mapping{Phone: "phone"}, fail: `no column "phone"`},
		{name: "no phone column named", csv: "tel\n1\n", mapping: Mapping{}, fail: "which column holds the phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMapping
			if tt.mapping.Phone != "" || strings.Contains(tt.name, "phone column") {
				m = tt.mapping
			}
			rep, err := parseSample(strings.NewReader(tt.csv), m, "US", nil)
			if tt.fail != "" {
				if err == nil || !strings.Contains(survey.ErrorMessage(err), tt.fail) || survey.ErrorCodeOf(err) != survey.EInvalid {
					t.Fatalf("error %v, want one saying %q", err, tt.fail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for _, r := range rep.Rows {
				got = append(got, row{r.Line, r.Phone, r.TZ, r.Attrs["first_name"]})
			}
			if diff := cmp.Diff(tt.rows, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errors, rep.Errors, cmpEmpty); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.dups, rep.Duplicates, cmpEmpty); diff != "" {
				t.Errorf("duplicates (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.FilterValues(func(a, b []rowError) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// Other numbers come in the mapping's order, labelled by their column;
// empty cells and repeats of a number are left out, a bad one refuses the
// row naming the column.
func TestParseSampleMoreNumbers(t *testing.T) {
	csv := "phone,mobile,work,name\n" +
		"+12025550134,+1 202 555 0135,,Ann\n" +
		"+12025550136,+12025550136,(202) 555-0137,Ben\n" +
		"+12025550138,not a number,,Cat\n"
	rep, err := parseSample(strings.NewReader(csv), Mapping{Phone: "phone", More: []string{"mobile", " work"}, Fields: map[string]string{}}, "US", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || len(rep.Errors) != 1 || rep.Errors[0].Line != 4 || !strings.HasPrefix(rep.Errors[0].Message, "mobile: ") {
		t.Fatalf("rows %+v, errors %+v", rep.Rows, rep.Errors)
	}
	if m := rep.Rows[0].More; len(m) != 1 || m[0] != (survey.Number{Phone: "+12025550135", Label: "mobile"}) {
		t.Errorf("Ann's other numbers %+v", m)
	}
	if m := rep.Rows[1].More; len(m) != 1 || m[0] != (survey.Number{Phone: "+12025550137", Label: "work"}) {
		t.Errorf("Ben's other numbers %+v (the mobile repeats the main number)", m)
	}
	if _, err := parseSample(strings.NewReader(csv), Mapping{Phone: "phone", More: []string{"fax"}}, "US", nil); err == nil || !strings.Contains(err.Error(), `no column "fax"`) {
		t.Errorf("a missing column: %v", err)
	}
}

func TestParseSampleProgress(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("phone\n")
	for i := range 2500 {
		b.WriteString("+1202555")
		b.WriteString(strings.Repeat("0", 4-len(itoa(i))) + itoa(i))
		b.WriteString("\n")
	}
	var calls []int
	rep, err := parseSample(bytes.NewReader(b.Bytes()), Mapping{Phone: "phone"}, "US", func(rows int, n int64) { calls = append(calls, rows) })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows)+len(rep.Errors) != 2500 || len(calls) != 3 || calls[2] != 2500 {
		t.Fatalf("rows %d errors %d progress %v", len(rep.Rows), len(rep.Errors), calls)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func FuzzParseSample(f *testing.F) {
	f.Add([]byte("phone,tz,name,region\n+12025550134,,Ann,north\n"))
	f.Add([]byte("phone,tz,name,region\n\"+1 202\n555 0134\",Europe/Paris,\"a,b\",\n"))
	f.Add([]byte("\xef\xbb\xbfphone,tz,name,region\n2025550134,x,y,z\n,,,\n"))
	f.Add([]byte("phone,tz,name,region\n+1202555\xff,,,\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := parseSample(bytes.NewReader(b), testMapping, "US", nil)
		if err != nil {
			if survey.ErrorCodeOf(err) != survey.EInvalid {
				t.Fatalf("file error without a user-facing message: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range rep.Rows {
			num, err := phonenumbers.Parse(r.Phone, "")
			if err != nil || phonenumbers.Format(num, phonenumbers.E164) != r.Phone || seen[r.Phone] {
				t.Fatalf("row %+v: not a unique E.164 number", r)
			}
			seen[r.Phone] = true
			if _, err := time.LoadLocation(r.TZ); err != nil || r.TZ == "" {
				t.Fatalf("row %+v: bad zone", r)
			}
			for _, v := range r.Attrs {
				if !utf8.ValidString(v) {
					t.Fatalf("row %+v: not UTF-8", r)
				}
			}
		}
	})
}

// TestExampleSample keeps testdata/samples/customer-study.csv (the README's
// tour) importable for the customer study.
func TestExampleSample(t *testing.T) {
	f, err := testdata.Samples.Open("samples/customer-study.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := Mapping{Phone: "phone", TZ: "time_zone", Fields: map[string]string{
		"first_name": "first_name", "region": "region", "segment": "segment", "product": "product"}}
	rep, err := parseSample(f, m, "US", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 20 || len(rep.Errors) != 0 || len(rep.Duplicates) != 0 {
		t.Errorf("rows %d, errors %v, duplicates %v", len(rep.Rows), rep.Errors, rep.Duplicates)
	}
}
