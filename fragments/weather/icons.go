package weather

// conditionLabels names each condition code the data may use; the label is
// the icon's accessible name.
var conditionLabels = map[string]string{
	"clear":         "Clear",
	"partly-cloudy": "Partly cloudy",
	"cloudy":        "Cloudy",
	"rain":          "Rain",
	"showers":       "Showers",
	"thunder":       "Thunderstorms",
	"snow":          "Snow",
	"sleet":         "Sleet",
	"fog":           "Fog",
	"wind":          "Windy",
}

func knownCode(code string) bool {
	_, ok := conditionLabels[code]
	return ok
}
