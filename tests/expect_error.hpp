// Test helper: expects paisparse::error whose message contains every fragment.
#pragma once

#include <gtest/gtest.h>

#include <paisparse/error.hpp>

#include <initializer_list>
#include <string>

template <class F>
void expect_error(F&& f, std::initializer_list<const char*> fragments) {
  try {
    f();
    ADD_FAILURE() << "expected paisparse::error";
  } catch (const paisparse::error& e) {
    const std::string msg = e.what();
    for (const char* frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "message: " << msg;
  }
}
