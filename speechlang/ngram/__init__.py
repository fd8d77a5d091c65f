"""speechlang.ngram"""
