#include "model/intern.h"

#include <string>

#include <catch2/catch.hpp>

using iotwall::Interner;
using iotwall::Sym;

TEST_CASE("interner gives equal ids to equal strings and keeps their bytes", "[intern]") {
  Interner in;
  Sym a = in.intern("lightcontrol2");
  Sym b = in.intern(std::string("light") + "control2");
  Sym c = in.intern("lightcontrol3");
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK(in.str(a) == "lightcontrol2");
  CHECK(in.str(c) == "lightcontrol3");
  CHECK(in.find("lightcontrol3") == c);
  CHECK(in.find("nothere").empty());
}

TEST_CASE("the empty string is Sym 0", "[intern]") {
  Interner in;
  CHECK(in.intern("").id == 0);
  CHECK(in.str(Sym{}).empty());
  CHECK(in.size() == 1);
}

TEST_CASE("ids are dense and views stay valid across arena growth", "[intern]") {
  Interner in;
  std::vector<Sym> syms;
  for (int i = 0; i < 20000; ++i) syms.push_back(in.intern("/agent" + std::to_string(i) + "/service"));
  // A string larger than a block goes to a block of its own.
  std::string big(100000, 'x');
  Sym bigsym = in.intern(big);
  for (int i = 0; i < 20000; ++i) {
    CHECK(syms[i].id == static_cast<uint32_t>(i + 1));
    REQUIRE(in.str(syms[i]) == "/agent" + std::to_string(i) + "/service");
  }
  CHECK(in.str(bigsym) == big);
  CHECK(in.intern("/agent7/service") == syms[7]);
  CHECK(in.bytes() > 100000);
}
