// Plain words for people: service types as nouns, questions to the site
// manager, reasons for a verdict.
#pragma once

#include <string>
#include <string_view>

#include "model/comm_graph.h"
#include "model/intern.h"

namespace iotwall {

// "/lightControler" -> "light controller"; unknown types are split at
// camel-case humps ("/fooBarService" -> "foo bar service").
std::string type_noun(std::string_view type);
// The plural of type_noun ("light controllers", "batteries").
std::string type_plural(std::string_view type);

// The question as the manager reads it, e.g. "Should light controllers read
// temperature sensors in their own room?" or, when the type relation is
// already allowed and only this pair is new, or types are unknown, at the
// level of the instances: "Should washingmachine2 (washing machine,
// Watterroom) write doorlock1 (door lock, Entrance)?".
std::string question_text(const CommGraph& g, const Question& q, const Interner& in);

// "lightcontrol2 (light controller, Kitchen)" or the address when unknown.
std::string vertex_text(const Vertex& v, const Interner& in);

}  // namespace iotwall
