// A stand-in for the one Hive LLAP type pip's pyspark does not ship (hive-llap-common). Hive's
// FunctionRegistry names it in a built-in table function (get_splits), so without it the
// registry cannot load: a session close that makes Hive register its functions then fails
// (NoClassDefFoundError) and every later one waits forever. tests/spark_cluster.py compiles
// this onto the Thrift server's class path. Nothing calls it: LLAP is not used.
package org.apache.hadoop.hive.llap.security;

public interface LlapSigner {
  interface Signable {}
}
