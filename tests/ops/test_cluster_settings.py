"""Cluster mode's settings: bad values are one clear line that names the setting and never
repeats the URL (it may hold a password); without TB_DALLE_REDIS_URL nothing changes."""

import pytest

from dalleserver.config import ConfigError, load_config


def config(tmp_path, **env):
    return load_config({}, {"HOME": str(tmp_path), **env}, cwd=tmp_path)


def test_one_host_by_default(tmp_path):
    settings = config(tmp_path)
    assert settings.redis_url == "" and settings.instance == ""
    assert settings.reclaim_after == 30.0 and settings.redis_prefix == "dalle"
    assert settings.describe()["redis_url"] == "unset"


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "redis://", "127.0.0.1:6379",
                                 "redis://:hunter2@127.0.0.1:0/0"])
def test_a_bad_redis_url_is_named_and_not_shown(tmp_path, url):
    with pytest.raises(ConfigError) as error:
        config(tmp_path, TB_DALLE_REDIS_URL=url)
    assert "TB_DALLE_REDIS_URL" in str(error.value) and "hunter2" not in str(error.value)
    assert "(not shown)" in str(error.value)


@pytest.mark.parametrize("env", [{"TB_DALLE_INSTANCE": "two words"},
                                 {"TB_DALLE_RECLAIM_AFTER": "0s"},
                                 {"TB_DALLE_REDIS_PREFIX": "a b"}])
def test_bad_cluster_settings_name_themselves(tmp_path, env):
    with pytest.raises(ConfigError, match=next(iter(env))):
        config(tmp_path, **env)
