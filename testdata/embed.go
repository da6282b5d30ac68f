// Package testdata holds Canvass's shared fixtures — example questionnaires,
// sample files, recorded protocol traffic — embedded so tests and the
// `canvass` binary reach them without ../ paths.
package testdata

import "embed"

// Questionnaires holds the example questionnaires, questionnaires/*.yaml.
//
//go:embed questionnaires/*.yaml
var Questionnaires embed.FS

// Samples holds example sample files for the console's importer,
// samples/*.csv.
//
//go:embed samples/*.csv
var Samples embed.FS
