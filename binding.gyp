{
  "targets": [
    {
      "target_name": "eventd_native",
      "sources": ["native/eventd_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
