from pathlib import Path

import pytest

from dalleserver import __version__
from dalleserver.config import ConfigError, load_config
from tests.conftest import clean_env, run_cli


def test_defaults_without_anything(tmp_path):
    config = load_config({}, {"HOME": str(tmp_path)}, cwd=tmp_path)
    assert config.host == "127.0.0.1"
    assert config.port == 8080
    assert config.data_dir == tmp_path / ".local/share/trueblocks/dalle"
    assert config.lock_ttl == 300
    assert config.workers == 2
    assert config.queue_size == 64
    assert config.image_backend == "local"  # auto without a key
    assert config.image_backend_setting == "auto"
    assert config.enhancement_model == "gpt-5.5"
    assert config.image_model == "gpt-image-2"
    assert config.enhancement_timeout == 60 and config.image_timeout == 300
    assert config.chat_completions_url == "https://api.openai.com/v1/chat/completions"
    assert config.image_generations_url == "https://api.openai.com/v1/images/generations"
    assert not config.enhance_enabled


def test_xdg_data_home(tmp_path):
    config = load_config({}, {"XDG_DATA_HOME": str(tmp_path / "xdg")}, cwd=tmp_path)
    assert config.data_dir == tmp_path / "xdg/trueblocks/dalle"


def test_precedence_flag_env_dotenv_default(tmp_path):
    (tmp_path / ".env").write_text("TB_DALLE_PORT=7001\nTB_DALLE_WORKERS=3\nTB_DALLE_HOST=::1\n")
    env = {"HOME": str(tmp_path), "TB_DALLE_PORT": "7002", "TB_DALLE_WORKERS": ""}
    config = load_config({"port": None}, env, cwd=tmp_path)
    assert config.port == 7002  # env beats .env
    assert config.workers == 3  # empty env value counts as unset, .env applies
    assert config.host == "::1"  # only in .env
    config = load_config({"port": "7003"}, env, cwd=tmp_path)
    assert config.port == 7003  # flag beats env
    assert config.sources["port"] == "--port"


def test_env_file_flag_and_missing_file(tmp_path):
    env_file = tmp_path / "custom.env"
    env_file.write_text('OPENAI_API_KEY="sk-test"\nTB_DALLE_LOCK_TTL=1h30m\n')
    config = load_config({}, {"HOME": str(tmp_path)}, env_file=str(env_file), cwd=tmp_path)
    assert config.openai_api_key == "sk-test"
    assert config.image_backend == "openai"
    assert config.lock_ttl == 5400
    assert "sk-test" not in repr(config)
    assert config.describe()["openai_api_key"] == "set"
    with pytest.raises(ConfigError, match="--env-file"):
        load_config({}, {}, env_file=str(tmp_path / "nope.env"), cwd=tmp_path)


@pytest.mark.parametrize(
    "env,name",
    [
        ({"TB_DALLE_PORT": "http"}, "TB_DALLE_PORT"),
        ({"TB_DALLE_PORT": "70000"}, "TB_DALLE_PORT"),
        ({"TB_DALLE_LOCK_TTL": "five minutes"}, "TB_DALLE_LOCK_TTL"),
        ({"TB_DALLE_LOCK_TTL": "0s"}, "TB_DALLE_LOCK_TTL"),
        ({"TB_DALLE_WORKERS": "0"}, "TB_DALLE_WORKERS"),
        ({"TB_DALLE_IMAGE_BACKEND": "dalle"}, "TB_DALLE_IMAGE_BACKEND"),
        ({"TB_DALLE_SKIP_IMAGE": "maybe"}, "TB_DALLE_SKIP_IMAGE"),
        ({"OPENAI_BASE_URL": "api.openai.com"}, "OPENAI_BASE_URL"),
        ({"TB_DALLE_IMAGE_TIMEOUT": "-1s"}, "TB_DALLE_IMAGE_TIMEOUT"),
        ({"TB_DALLE_TRUSTED_PROXIES": "10.0.0.1,banana"}, "TB_DALLE_TRUSTED_PROXIES"),
        ({"TB_DALLE_IMAGE_BACKEND": "openai"}, "TB_DALLE_IMAGE_BACKEND"),  # needs a key
    ],
)
def test_invalid_values_name_the_variable(tmp_path, env, name):
    with pytest.raises(ConfigError) as info:
        load_config({}, {"HOME": str(tmp_path), **env}, cwd=tmp_path)
    assert str(info.value).startswith(name)


def test_dotenv_errors_say_where_the_value_came_from(tmp_path):
    (tmp_path / ".env").write_text("TB_DALLE_QUEUE_SIZE=lots\n")
    with pytest.raises(ConfigError, match=r"TB_DALLE_QUEUE_SIZE \(from .*\.env\)"):
        load_config({}, {"HOME": str(tmp_path)}, cwd=tmp_path)


def test_skip_image_and_backend_flag(tmp_path):
    env = {"HOME": str(tmp_path), "TB_DALLE_SKIP_IMAGE": "1", "OPENAI_API_KEY": "k"}
    assert load_config({}, env, cwd=tmp_path).image_backend == "none"
    assert load_config({"image_backend": "local"}, env, cwd=tmp_path).image_backend == "local"
    env2 = {"HOME": str(tmp_path), "TB_DALLE_NO_ENHANCE": "1", "OPENAI_API_KEY": "k"}
    config = load_config({}, env2, cwd=tmp_path)
    assert config.image_backend == "openai" and not config.enhance_enabled


def test_base_url_and_full_urls(tmp_path):
    env = {"HOME": str(tmp_path), "OPENAI_BASE_URL": "http://127.0.0.1:9999/v1/"}
    config = load_config({}, env, cwd=tmp_path)
    assert config.chat_completions_url == "http://127.0.0.1:9999/v1/chat/completions"
    env["TB_DALLE_IMAGE_URL"] = "http://127.0.0.1:9998/img"
    config = load_config({}, env, cwd=tmp_path)
    assert config.image_generations_url == "http://127.0.0.1:9998/img"


def test_data_dir_expands_home(tmp_path):
    env = {"HOME": str(tmp_path), "TB_DALLE_DATA_DIR": "~/dalle-data"}
    config = load_config({}, env, cwd=tmp_path)
    assert config.data_dir == Path.home() / "dalle-data" or config.data_dir.name == "dalle-data"
    assert config.data_dir.is_absolute()


# --- through the real command line ------------------------------------------------------

def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"dalleserver {__version__}"


def test_bad_env_value_exits_2_with_one_line(tmp_path):
    result = run_cli("series", env=clean_env(TB_DALLE_PORT="eighty", HOME=str(tmp_path)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TB_DALLE_PORT" in lines[0] and "integer" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_flag_exits_2_with_one_line(tmp_path):
    result = run_cli("serve", "--port", "x", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--port" in result.stderr
    result = run_cli("serve", "--no-such-flag")
    assert result.returncode == 2
    assert "--no-such-flag" in result.stderr and result.stderr.count("\n") == 1


def test_bad_duration_flag_names_the_form(tmp_path):
    result = run_cli("serve", "--lock-ttl", "soon", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--lock-ttl" in result.stderr and "1h30m" in result.stderr


def test_env_file_used_by_cli(tmp_path):
    env_file = tmp_path / "x.env"
    env_file.write_text("TB_DALLE_WORKERS=many\n")
    result = run_cli("check", "--env-file", str(env_file), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "TB_DALLE_WORKERS" in result.stderr
