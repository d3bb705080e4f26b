//go:build race

package layerconv

const raceEnabled = true
