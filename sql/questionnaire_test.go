// Tests of questionnaire versioning: same source, same version; any change,
// a new one; concurrent uploads never share a version.

package sql_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestPutQuestionnaireVersions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	put := func(id, source string) (survey.QuestionnaireVersion, bool) {
		t.Helper()
		v, created, err := db.PutQuestionnaire(ctx, survey.QuestionnaireVersion{
			ID: id, Title: "T " + source, Languages: []string{"en"}, Source: []byte(source),
		})
		if err != nil {
			t.Fatal(err)
		}
		return v, created
	}

	v1, created := put("post-call", "id: post-call\n")
	if !created || v1.Version != 1 || v1.CreatedAt.IsZero() {
		t.Errorf("first upload: version %d created %v at %v, want version 1 created now", v1.Version, created, v1.CreatedAt)
	}
	again, created := put("post-call", "id: post-call\n")
	if created || again.Version != 1 || !again.CreatedAt.Equal(v1.CreatedAt) {
		t.Errorf("identical upload: version %d created %v, want version 1 not created", again.Version, created)
	}
	v2, created := put("post-call", "id: post-call\n# changed\n")
	if !created || v2.Version != 2 {
		t.Errorf("changed upload: version %d created %v, want version 2 created", v2.Version, created)
	}
	// Going back to the first source is a change from the latest.
	if v3, created := put("post-call", "id: post-call\n"); !created || v3.Version != 3 {
		t.Errorf("reverted upload: version %d created %v, want version 3 created", v3.Version, created)
	}
	put("nps", "id: nps\n")

	latest, err := db.Questionnaire(ctx, "post-call", 0)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Version != 3 || string(latest.Source) != "id: post-call\n" || !slices.Equal(latest.Languages, []string{"en"}) {
		t.Errorf("latest = %+v", latest)
	}
	old, err := db.Questionnaire(ctx, "post-call", 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(old.Source) != "id: post-call\n# changed\n" || old.Title != "T id: post-call\n# changed\n" {
		t.Errorf("version 2 = %+v", old)
	}
	for _, c := range []struct {
		id      string
		version int
	}{{"post-call", 4}, {"nope", 0}, {"nope", 1}} {
		if _, err := db.Questionnaire(ctx, c.id, c.version); !errors.Is(err, survey.NotFound) {
			t.Errorf("Questionnaire(%s, %d) = %v, want ErrNotFound", c.id, c.version, err)
		}
	}

	list, err := db.Questionnaires(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range list {
		got = append(got, fmt.Sprintf("%s v%d %d bytes", v.ID, v.Version, len(v.Source)))
	}
	if want := []string{"nps v1 0 bytes", "post-call v3 0 bytes"}; !slices.Equal(got, want) {
		t.Errorf("Questionnaires = %q, want %q", got, want)
	}

	versions, err := db.QuestionnaireVersions(ctx, "post-call")
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, v := range versions {
		got = append(got, fmt.Sprintf("v%d", v.Version))
	}
	if want := []string{"v1", "v2", "v3"}; !slices.Equal(got, want) {
		t.Errorf("QuestionnaireVersions = %q, want %q", got, want)
	}
	if _, err := db.QuestionnaireVersions(ctx, "nope"); !errors.Is(err, survey.NotFound) {
		t.Errorf("QuestionnaireVersions of an unknown id: %v, want ErrNotFound", err)
	}
}

func TestPutQuestionnaireConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	const uploads = 8
	versions := make([]int, uploads)
	errs := make([]error, uploads)
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Go(func() {
			v, _, err := db.PutQuestionnaire(ctx, survey.QuestionnaireVersion{
				ID: "busy", Source: fmt.Appendf(nil, "id: busy\n# upload %d\n", i),
			})
			versions[i], errs[i] = v.Version, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(versions)
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(versions, want) {
		t.Errorf("versions of concurrent uploads = %v, want %v", versions, want)
	}
}
