#include "model/intern.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "model/access.h"

using iotwall::Interner;
using iotwall::Sym;
using iotwall::Value;

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

TEST_CASE("a bounded interner gives new strings the overflow name past its bounds", "[intern]") {
  Interner in;
  const Sym kept = in.intern("kept");
  in.set_limits(10, 1 << 20);
  const Sym over = in.overflow();
  REQUIRE_FALSE(over.empty());
  CHECK(in.str(over) == Interner::kOverflowName);
  std::vector<Sym> syms;
  for (int i = 0; i < 1000; ++i) syms.push_back(in.intern("/agent1/made-up" + std::to_string(i)));
  CHECK(in.size() == 10);  // "", "kept", the overflow name and 7 more
  CHECK(syms[6] != over);
  CHECK(in.str(syms[6]) == "/agent1/made-up6");
  CHECK(syms[7] == over);
  CHECK(syms[999] == over);
  CHECK(in.overflowed() == 993);
  CHECK(in.intern("kept") == kept);  // known strings are still found
  CHECK(in.intern("/agent1/made-up3") == syms[3]);

  // The byte bound: a long string past it is refused, a short one fits.
  Interner b;
  b.set_limits(0, 100);
  CHECK(b.intern(std::string(200, 'x')) == b.overflow());
  CHECK(b.intern("short") != b.overflow());
  CHECK(b.overflowed() == 1);
}

TEST_CASE("an unbounded interner has no overflow name", "[intern]") {
  Interner in;
  for (int i = 0; i < 100000; ++i) in.intern(std::to_string(i));
  CHECK(in.overflow().empty());
  CHECK(in.overflowed() == 0);
  CHECK(in.size() == 100001);
}

TEST_CASE("bounds lifted for a load and set again keep the overflow name", "[intern]") {
  Interner in;
  in.set_limits(4, 0);
  const Sym over = in.overflow();
  in.set_limits(0, 0);  // a saved state loads whole
  for (int i = 0; i < 10; ++i) CHECK(in.intern("saved" + std::to_string(i)) != over);
  in.set_limits(4, 0);
  CHECK(in.overflow() == over);
  CHECK(in.intern("saved3") != over);  // loaded names stay
  CHECK(in.intern("new") == over);     // past the bound again
}

TEST_CASE("text values never use up the room names need", "[intern]") {
  // Real traces carry unique text values (a Java object's identity at every
  // access): past half the bounds they share one category, and names still
  // get their own ids.
  Interner in;
  in.set_limits(100, 1 << 20);
  for (int i = 0; i < 1000; ++i) in.intern_value("org.ds2os.AddressParameters@" + std::to_string(i));
  CHECK(in.size() <= 51);
  CHECK(in.intern_value("org.ds2os.AddressParameters@5000") == in.overflow());
  CHECK(in.intern_value("org.ds2os.AddressParameters@7") != in.overflow());  // kept ones stay
  const Sym name = in.intern("/agent1/newservice");
  CHECK(name != in.overflow());
  CHECK(in.str(name) == "/agent1/newservice");
  CHECK(Value::parse("org.ds2os.AddressParameters@9999", in).text == in.overflow());

  Interner unbounded;
  for (int i = 0; i < 1000; ++i) unbounded.intern_value("v" + std::to_string(i));
  CHECK(unbounded.size() >= 1000);
}
